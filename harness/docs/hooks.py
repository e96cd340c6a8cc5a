"""docs/hooks.md: every hook (from harness.kinds and harness/hookspecs.py), the types its `build`
returns and sees, the fold's lifecycle, FoldState, the state and checkpoint contract, and the
`harness plugin new` example of each kind."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from harness.docs.markdown import NOTICE, as_code, builtins_of, code, default_of, doc_of, plugins_in_use, signature, table


def describe_type(name: str) -> list[str]:
    """A class of harness.specs as markdown: its docstring, then its fields or its methods."""
    import harness.specs as specs
    from harness.config.options import field_docs

    obj: Any = getattr(specs, name)
    lines = [f"#### `{name}`", "", doc_of(obj), ""]
    if dataclasses.is_dataclass(obj) and dataclasses.fields(obj):
        docs = field_docs(getattr(specs, name))
        rows = [[f"`{f.name}`", f"`{f.type}`", default_of(f), docs.get(f.name, "")] for f in dataclasses.fields(obj)]
        if any(r[3] for r in rows):
            lines += [*table(["field", "type", "default", "meaning"], rows), ""]
        else:  # the docstring describes the fields
            lines += [*table(["field", "type", "default"], [r[:3] for r in rows]), ""]
    methods = [(n, m) for n, m in vars(obj).items() if inspect.isfunction(m) and (not n.startswith("_") or n in (
        "__call__", "__iter__", "__len__"))]
    if methods and not dataclasses.is_dataclass(obj):
        sigs = "\n".join(signature(n, m) for n, m in methods)
        lines += [*code(sigs, "python"), ""]
    return lines


def hook_kinds() -> dict[str, Any]:
    """hook name -> its harness.kinds.Kind."""
    from harness.kinds import KINDS

    return {k.hook: k for k in KINDS}


def hook_section(name: str, fn: Any, plugins: Any) -> list[str]:
    from harness.config.options import option_prefix, selector
    from harness.testing import contracts
    from harness.testing.scaffold import render

    d = hook_kinds()[name]
    ret = inspect.signature(fn).return_annotation
    lines = [f"## `{name}`", "", *code(f"@hookimpl\ndef {name}() -> {ret}: ...", "python"), "", doc_of(fn), ""]
    prefix = option_prefix(d.name, "NAME")
    lines += [
        "- **Parameters**: none. A hook only lists what the plugin offers; each component gets what it "
        "needs when a fold builds it.",
        f"- **Returns**: `{ret}`, one entry per component, each with a `name` that is unique across plugins"
        + ("." if d.build_args in ("model", "spec") else " (see [`Component`](#component))."),
        f"- **`build`**: `{d.build}`.",
        f"- **Selected by**: {as_code(selector(d.name, 'NAME'))}"
        + (f"; its options are the keys of `[{prefix}]`." if prefix else "."),
        f"- **Contract test**: `harness.testing.{d.contract}`: {' '.join(doc_of(getattr(contracts, d.contract)).split())}",
    ]
    found = builtins_of(plugins, d.name)
    if found:
        lines.append("- **Built-ins**: " + "; ".join(f"`{n}` ({s.doc})" if s.doc else f"`{n}`" for n, s in found.items())
                     + ". `harness plugins NAME` shows each one's options.")
    lines += ["", "### What `build` returns, and the data it sees", ""]
    for t in d.types:
        lines += describe_type(t)
    example, kind = d.example, d.template
    files = render(example, kind)
    module = next(k for k in files if k.endswith("/__init__.py"))
    lines += ["### Example", "",
              f"A complete plugin module, the one `harness plugin new {example} --kind {kind}` writes "
              f"(with `pyproject.toml`, `README.md` and contract tests). Its trick is an example, not a built-in: "
              f"the shape to copy, with your own math.", "", *code(files[module], "python"), ""]
    return lines


def render_hooks() -> str:
    import harness.hookspecs as hookspecs
    import harness.plugin_manager as plugin_manager
    import harness.testing as testing
    import harness.train.checkpoints as checkpoints
    import harness.train.resume as resume
    import harness.train.state as state
    from harness.config import options
    from harness.specs import Callback, FoldState

    plugins = plugins_in_use()
    hooks = [(n, f) for n, f in vars(hookspecs).items() if n.startswith("harness_") and inspect.isfunction(f)]
    missing = [n for n, _ in hooks if n not in hook_kinds()]
    if missing:
        raise SystemExit(f"add {', '.join(missing)} to harness.kinds.KINDS (its section, build, types, contract)")
    out = [NOTICE, "", "# Hook reference", "", doc_of(hookspecs), "",
           "Start a package with `harness plugin new NAME --kind KIND` (`--kind` repeated for several components in "
           "one package, see [the CLI](cli/plugin.md) and [Testing a plugin](#testing-a-plugin)); its code is a labelled "
           "example to replace. Check it with the contract class of its kind; `harness plugins NAME` shows a component "
           "as a recipe sees it.",
           "", "Contents:", ""]
    out += [f"- [`{n}`](#{n})" for n, _ in hooks]
    out += ["- [Shared types: BuildContext, Component](#shared-types)", "- [The fold's lifecycle](#the-folds-lifecycle)",
            "- [FoldState](#foldstate)", "- [State and checkpoints](#state-and-checkpoints)",
            "- [Options and their documentation](#options-and-their-documentation)",
            "- [Loading, warnings and errors](#loading-warnings-and-errors)",
            "- [Testing a plugin](#testing-a-plugin)", ""]
    for name, fn in hooks:
        out += hook_section(name, fn, plugins)
    out += ["## Shared types", "", *describe_type("BuildContext"), *describe_type("Component"),
            *describe_type("NoOptions")]
    out += ["## The fold's lifecycle", "", doc_of(Callback), "", "Every event, with its default (a subclass overrides "
            "what it needs):", ""]
    events = [(n, m) for n, m in vars(Callback).items() if inspect.isfunction(m)]
    out += code("\n".join(signature(n, m) for n, m in events), "python")
    out += ["", "## FoldState", "", f"`harness.specs.FoldState`. {doc_of(FoldState)}", "", "| field | what it is |",
            "|---|---|"]
    out += [f"| `{n}` | {' '.join((inspect.getdoc(p.fget) or '').split())} |" for n, p in vars(FoldState).items()
            if isinstance(p, property)]
    out += ["", doc_of(state), "", "Saved by every checkpoint and restored on resume: "
            + ", ".join(f"`{f}`" for f in state.RESUMED) + ".", ""]
    out += ["## State and checkpoints", "", doc_of(resume), "", doc_of(checkpoints), "",
            "The contract for a component with state (a schedule, a batch transform, a callback): `state_dict()` "
            "returns tensors and plain data (numbers, strings, lists, dicts), which must survive `torch.save` and "
            "`torch.load(weights_only=True)`; `load_state_dict(state)` restores it exactly, so that the resumed run "
            "is the uninterrupted one. The core builds the fold's components, calls `on_fold_start`, and only then "
            "`load_state_dict` (a callback that needs the model loads into what `on_fold_start` made). Randomness "
            "comes from the component's own `torch.Generator`, whose state is in `state_dict`, or from a pure "
            "function of (seed, epoch, update). The contract classes check all of this.", ""]
    out += ["## Options and their documentation", "", doc_of(options), "",
            "Validation: a `validate(self, where)` method on the options dataclass runs after the keys are read; "
            "`harness.config.typed.require(cond, f\"{where}.key\", message)` makes each check one line. An unknown "
            "key, a wrong type or a failed check stops the recipe with one line naming the key.", ""]
    out += ["## Loading, warnings and errors", "", doc_of(plugin_manager), ""]
    out += ["## Testing a plugin", "", doc_of(testing), ""]
    return "\n".join(out).rstrip() + "\n"
