"""`harness plugin new`: the files of a new plugin package, a working example trick per component
(labelled as one, to replace), each with its contract tests. The templates are also the examples
of docs/hooks.md.

One kind, `harness plugin new random-erasing --kind batch_transform`: the folder
`harness-random-erasing/` holds `pyproject.toml` (the entry point), `harness_random_erasing/__init__.py`
(the trick, its options with a comment per field, and the `@hookimpl` at the bottom), offering the
component `random_erasing`, `tests/test_random_erasing.py` (the contract class of its kind, plus one
property test) and `README.md`.

Several kinds in one package, `--kind` repeated (`KIND:NAME` names a component, else it is
`PACKAGE_KIND`): `harness plugin new kit --kind loss:poly1 --kind metric:map3 --kind callback:lr_log`
writes one module per component, `harness_kit/poly1.py`, ..., each an entry point (a plugin) of its
own, and `tests/test_poly1.py`, ... per component.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, suggest
from harness.kinds import kind_of
from harness.testing.templates import TEMPLATES
from harness.testing.templates.package import EXAMPLE, PACKAGE_INIT, PYPROJECT, README, TEST

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Part:
    """One component of the package."""

    kind: str  # the template: "loss"
    component: str  # its name in a recipe: "poly1"
    module: str  # what its entry point loads: "harness_kit" (one component) or "harness_kit.poly1"
    path: str  # its file in the package folder


@dataclass(frozen=True)
class Scaffolded:
    root: Path
    dist: str
    module: str  # the import package
    component: str  # the first component's name
    files: tuple[Path, ...]
    parts: tuple[Part, ...] = ()


def names(name: str) -> tuple[str, str, str]:
    """(component, module, distribution) of NAME: 'random-erasing' -> ('random_erasing',
    'harness_random_erasing', 'harness-random-erasing')."""
    slug = re.sub(r"^harness[-_]", "", name.strip().lower()).replace("-", "_")
    if not _NAME.fullmatch(slug):
        raise HarnessError(f"plugin name {name!r}: use letters, digits, '-' and '_', starting with a letter "
                           "(such as random-erasing)")
    return slug, f"harness_{slug}", f"harness-{slug.replace('_', '-')}"


def parts(name: str, kinds: Sequence[str]) -> tuple[Part, ...]:
    """The components that `--kind KIND[:NAME]` (repeatable) asks for. One kind without a NAME is the
    one-module layout, its component named after the package; otherwise one module per component."""
    slug, package, _ = names(name)
    kinds = list(kinds) or ["loss"]
    found = []
    for text in kinds:
        kind, _, component = text.partition(":")
        try:  # any word harness.kinds knows for a kind: loss, losses, tta-view, augment, ...
            kind = kind_of(kind).template
        except HarnessError:
            raise HarnessError(f"--kind {kind!r}{suggest(kind, TEMPLATES)}: choose one of {', '.join(TEMPLATES)}") from None
        component = component.strip().lower().replace("-", "_") or (slug if len(kinds) == 1 else f"{slug}_{kind}")
        if not _NAME.fullmatch(component):
            raise HarnessError(f"--kind {text!r}: name the component with letters, digits and '_' (such as {kind}:my_{kind})")
        found.append((kind, component))
    seen = [c for _, c in found]
    if len(set(seen)) != len(seen):
        raise HarnessError(f"--kind: two components share a name in {', '.join(seen)}; name each, KIND:NAME")
    if len(found) == 1 and ":" not in kinds[0]:
        return (Part(found[0][0], found[0][1], package, f"{package}/__init__.py"),)
    return tuple(Part(kind, c, f"{package}.{c}", f"{package}/{c}.py") for kind, c in found)


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return text


def _recipe_lines(module_text: str) -> str:
    docstring = module_text.split('"""', 2)[1]
    return "\n".join(line.removeprefix("    ") for line in docstring.splitlines() if line.startswith("    ") or not line)


def _component_files(part: Part) -> tuple[str, str, str]:
    """(module text, test text, the recipe lines of its docstring) of one component."""
    t = TEMPLATES[part.kind]
    kind = part.kind.replace("_", " ")
    values = {"TITLE": f"`{part.component}`, a harness {kind}", "NAME": part.component, "MODULE": part.module,
              "CLASS": "".join(w.title() for w in part.component.split("_")), "KIND": kind, "CONTRACT": t.contract,
              "HOOK": t.hook, "IMPORTS": t.test_imports, "STAND_IN": t.stand_in}
    values["EXAMPLE"] = textwrap.fill(_fill(EXAMPLE, values), width=100)
    module_text = _fill(t.module, values)
    test_text = _fill(TEST + t.test, values)
    if not t.test_imports:
        test_text = test_text.replace("ClassVar\n\n\n", "ClassVar\n\n")
    return module_text, test_text, _recipe_lines(module_text).strip()


def render(name: str, kinds: str | Sequence[str]) -> dict[str, str]:
    """The package's files, relative path -> text. `kinds`: one kind, or `KIND[:NAME]` entries."""
    chosen = parts(name, [kinds] if isinstance(kinds, str) else kinds)
    _, package, dist = names(name)
    files: dict[str, str] = {}
    usage = []
    for part in chosen:
        module_text, test_text, recipe = _component_files(part)
        files[part.path] = module_text
        files[f"tests/test_{part.component}.py"] = test_text
        usage.append(f"`{part.component}` in a recipe:\n\n```toml\n{recipe}\n```")
    described = ", ".join(f"{p.kind.replace('_', ' ')} `{p.component}`" for p in chosen)
    single = len(chosen) == 1 and chosen[0].module == package
    intro = (f"{'The ' if single else 'Components: '}{described}, for [harness](https://github.com/), as a package of "
             "its own. The whole integration is the entry points in `pyproject.toml`, one per component module:")
    layout = (f"`{package}/__init__.py` holds the trick (the math first), its options dataclass (the recipe keys: the "
              f"comment after each field is its documentation, which `harness plugins {chosen[0].component}` shows) and, "
              f"at the bottom, the `@hookimpl` of `{TEMPLATES[chosen[0].kind].hook}` that offers it." if single else
              f"Each component is a module of `{package}/` (" + ", ".join(f"`{p.path.split('/')[-1]}`" for p in chosen)
              + "): the math first, its options dataclass (the recipe keys), `build`, and the `@hookimpl` of its hook "
              "at the bottom; each module is an entry point, a plugin of its own.")
    layout += (" docs/hooks.md of harness documents each hook, the data format it sees (dtype, range, layout, device) "
               "and the lifecycle.")
    note = ("**The code is an example to replace.** `harness plugin new` wrote a working stand-in for each component ("
            + "; ".join(f"`{p.component}`: {TEMPLATES[p.kind].stand_in}" for p in chosen) + ") so that the package "
            "installs, lists and passes its contract tests from the first minute; replace each one's math, options "
            "and `doc` line with your own.")
    values = {"DIST": dist, "PACKAGE": package, "FIRST": chosen[0].component, "SUMMARY": described,
              "INTRO": textwrap.fill(intro, 100), "LAYOUT": textwrap.fill(layout, 100),
              "EXAMPLE_NOTE": textwrap.fill(note, 100),
              "ENTRY_POINTS": "\n".join(f'{p.component} = "{p.module}"' for p in chosen),
              "USAGE": "\n\n".join(usage),
              "LIST": "\n".join(f"- `{p.path.split('/')[-1]}`: the {p.kind.replace('_', ' ')} `{p.component}`" for p in chosen)}
    if not single:
        files[f"{package}/__init__.py"] = _fill(PACKAGE_INIT, values)
    return {"pyproject.toml": _fill(PYPROJECT, values), "README.md": _fill(README, values), **files}


def scaffold(name: str, kinds: str | Sequence[str], where: Path) -> Scaffolded:
    """Write the package for NAME into WHERE/harness-NAME; an existing folder is an error."""
    _, package, dist = names(name)
    chosen = parts(name, [kinds] if isinstance(kinds, str) else kinds)
    files = render(name, kinds)
    root = Path(where) / dist
    if root.exists():
        raise HarnessError(f"{root} already exists; choose another name or --dir")
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return Scaffolded(root, dist, package, chosen[0].component, tuple(written), chosen)
