"""What a recipe key means: every field of a config or options dataclass described as recipe key,
type, default and doc, for `harness plugins NAME`, `docs/recipe.md` and the plugin author.

The convention, for the core's sections and every plugin's options dataclass alike: a field's doc
is its comment. The comment at the end of the field's line, preceded by any comment lines directly
above the field (no blank line between), joined into one sentence:

    @dataclass(frozen=True)
    class FocalOptions:
        gamma: float = 2.0  # focusing parameter: 0 is plain cross-entropy
        # Label smoothing of the targets before the focal weight, as in
        # `loss.smoothing` of cross_entropy.
        smoothing: float = 0.0

Comments are read from the source (`inspect`), so they cost nothing at run time; a class without
source (built in a REPL) is described without docs.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
import types
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from harness.kinds import BY_NAME


@dataclass(frozen=True)
class OptionDoc:
    key: str  # the full recipe key, such as "loss.smoothing"
    type: str  # as a recipe writes it: "float", "list of float", '"auto" | "max"'
    default: str  # as TOML: 0.1, true, "resize", [0.9, 1.1]; "(unset)" for None
    doc: str


def type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        unset = len(args) < len(get_args(tp))
        return " | ".join(type_name(a) for a in args) + (" (or unset)" if unset else "")
    if origin in (tuple, list):
        return f"list of {type_name(get_args(tp)[0])}"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def toml_value(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def _comment_docs(source: str) -> dict[str, str]:
    """field name -> doc, from the comments of an (indented) class's source."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if cls is None:
        return {}
    lines = source.splitlines()
    trailing: dict[int, str] = {}  # 1-based line -> comment at its end
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1][: tok.start[1]].strip():
            trailing[tok.start[0]] = tok.string.lstrip("#").strip()
    docs: dict[str, str] = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        row = node.lineno - 1  # 1-based line just above the field
        while row >= 1 and lines[row - 1].strip().startswith("#"):
            above.insert(0, lines[row - 1].strip().lstrip("#").strip())
            row -= 1
        parts = [*above, trailing.get(node.end_lineno or node.lineno, "")]
        docs[node.target.id] = " ".join(p for p in parts if p)
    return docs


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Each field's doc (its comment), base classes' fields included."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        docs.update(_comment_docs(source))
    return docs


def describe(cls: type, prefix: str) -> list[OptionDoc]:
    """The recipe keys of dataclass `cls`, each as `PREFIX.FIELD`, in field order; a field that is
    itself a dataclass is a nested table, described key by key (`PREFIX.FIELD.KEY`)."""
    if not dataclasses.is_dataclass(cls):
        return []
    hints = get_type_hints(cls)
    docs = field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a nested table: its own keys
            out.extend(describe(tp, f"{prefix}.{f.name}"))
            continue
        if f.default is not dataclasses.MISSING:
            default = toml_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = toml_value(f.default_factory())
        else:
            default = "(required)"
        out.append(OptionDoc(f"{prefix}.{f.name}", type_name(tp), default, docs.get(f.name, "")))
    return out


def selector(kind: str, name: str) -> str:
    """How a recipe (or the command line) chooses component `name` of `kind` (harness.kinds says)."""
    k = BY_NAME[kind]
    if k.selects == "one":
        return f'{k.section}.name = "{name}"' + (f" (or harness ensemble --method {name})" if kind == "ensemblers" else "")
    if k.selects == "many":
        return f"a [{k.section}.{name}] table (run in recipe order; enabled = false turns it off)"
    if k.selects == "views":
        return f'{k.section}.views = [..., "{name}"]'
    return f'{k.section} = "{name}"'


def option_prefix(kind: str, name: str) -> str | None:
    """The recipe table that holds the options of component `name` of `kind` (None: it has none)."""
    k = BY_NAME[kind]
    return {"one": k.section, "many": f"{k.section}.{name}", "views": f"{k.section}.{name}"}.get(k.selects)


def component_options(kind: str, name: str, options: type) -> list[OptionDoc]:
    prefix = option_prefix(kind, name)
    return [] if prefix is None else describe(options, prefix)
