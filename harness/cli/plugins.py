"""`harness plugins`: every registered plugin, where it comes from, and what each hook offers; with
a NAME (or -v), each component's documentation and options as recipe keys."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from harness.errors import HarnessError

HELP = "list the plugins and their components; show a component's documentation and options"
EXAMPLES = """examples:
  harness plugins                          # every plugin and the components each hook offers
  harness plugins -v                       # ... with every component's documentation and options
  harness plugins cross_entropy            # one component: its docs, how to select it, its recipe keys
  harness plugins tta_view:multi_scale     # KIND:NAME when a name is used by several kinds
  harness plugins losses:                  # every component of one kind
  HARNESS_PLUGINS= harness plugins         # the built-ins only

Options are recipe keys: `loss.smoothing = 0.1` in [loss], or `--set loss.smoothing=0.1`.
A misspelled hook is left out and the plugin's other hooks load; a plugin that fails to import is
skipped; each is a one-line warning that names its package (-v adds an import's traceback), and a
component that is not found names the plugins that did not load in full."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a component (NAME or KIND:NAME), a kind (KIND:), or a plugin")


def _entries(plugins: Any, kinds: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    """(kind, name, spec) of every component in use, in the order of `kinds`."""
    out = []
    for kind in kinds:
        for name, spec in sorted(plugins.of_kind(kind).items()):
            out.append((kind, name, spec))
    return out


def module_doc(spec: Any) -> str:
    """The docstring of the module that defines the component's build (or metric) function."""
    fn = getattr(spec, "build", None) or getattr(spec, "fn", None)
    module = inspect.getmodule(fn) if fn is not None else None
    return inspect.getdoc(module) or "" if module is not None else ""


def component_lines(plugins: Any, kind: str, name: str, spec: Any, full: bool) -> list[str]:
    """A component as text: what it is, who offers it, how a recipe selects it, and its options."""
    from harness.config.options import component_options, selector
    from harness.plugin_manager import singular

    owner = plugins.owner(kind, name)
    lines = [f"{name}  ({singular(kind)}, from {owner} [{plugins.sources.get(owner, 'built-in')}])"]
    if spec.doc:
        lines.append(f"    {spec.doc}")
    if kind == "metrics":
        lines.append(f"    {spec.in_words}; "
                     f"{'needs probabilities' if spec.needs_probs else 'reads the predicted labels'}")
    lines.append(f"    select: {selector(kind, name)}")
    options = component_options(kind, name, getattr(spec, "options", type(None)))
    if kind == "models":
        lines.append("    options: the [model] keys (harness plugins -v, docs/recipe.md)")
    elif options:
        lines.append("    options:")
        width = max(len(o.key) for o in options)
        for o in options:
            lines.append(f"      {o.key:<{width}}  {o.type} = {o.default}" + (f"  # {o.doc}" if o.doc else ""))
    elif kind not in ("metrics",):
        lines.append("    options: none")
    if full:
        doc = module_doc(spec)
        if doc:
            lines += ["", *("    " + line if line else "" for line in doc.splitlines())]
    return lines


def _find(plugins: Any, text: str) -> tuple[list[tuple[str, str, Any]], str | None]:
    """The components `text` names (NAME, KIND:NAME or KIND:), or the plugin it names."""
    from harness.errors import suggest
    from harness.plugin_manager import KINDS, kind_of

    kind_text, sep, name = text.rpartition(":")
    if sep:
        kind = kind_of(kind_text)
        entries = _entries(plugins, (kind,))
        if not name:
            return entries, None
        found = [e for e in entries if e[1] == name]
        if not found:
            hint = plugins.not_loaded(kind)  # names the likely cause instead of guessing a spelling
            raise HarnessError(f"no {kind_of(kind_text)} component named {name!r}"
                               f"{'' if hint else suggest(name, [e[1] for e in entries])}; available: "
                               f"{', '.join(e[1] for e in entries)}{hint}")
        return found, None
    entries = _entries(plugins, KINDS)
    found = [e for e in entries if e[1] == text]
    if found:
        return found, None
    if plugins.pm.has_plugin(text):
        return [], text
    names = [e[1] for e in entries] + [i.name for i in plugins.info()]
    hint = plugins.not_loaded()
    raise HarnessError(f"no component or plugin named {text!r}{hint or suggest(text, names)}; "
                       "`harness plugins` lists the ones that loaded")


def run(args: argparse.Namespace) -> int:
    from harness import console
    from harness.plugin_manager import KINDS, load_plugins

    plugins = load_plugins()
    if args.name is not None:
        found, plugin = _find(plugins, args.name)
        if plugin is None:
            blocks = [component_lines(plugins, kind, name, spec, full=len(found) == 1) for kind, name, spec in found]
            print("\n\n".join("\n".join(b) for b in blocks))
            return 0
        infos = [i for i in plugins.info() if i.name == plugin]
        wanted = {(hook.removeprefix("harness_"), n) for i in infos for hook, names in i.hooks for n in names}
        found = [e for e in _entries(plugins, KINDS) if (e[0], e[1]) in wanted and plugins.owner(e[0], e[1]) == plugin]
        print(f"{plugin}  [{plugins.sources.get(plugin, 'built-in')}]")
        for kind, name, spec in found:
            print("\n".join("    " + line for line in component_lines(plugins, kind, name, spec, full=False)))
        return 0
    verbose = console.verbose()
    for info in plugins.info():
        print(f"{info.name}  [{info.source}]" + ("" if info.hooks else "  (no hooks)"))
        for hook, names in info.hooks:
            print(f"    {hook}: {', '.join(names)}")
            if verbose:
                kind = hook.removeprefix("harness_")
                for name in names:
                    if plugins.owner(kind, name) != info.name:
                        print(f"        {name}: not used (the built-in of that name is)")
                        continue
                    spec = plugins.of_kind(kind)[name]
                    print("\n".join("        " + line for line in component_lines(plugins, kind, name, spec, False)))
    if not verbose:
        console.note("\n`harness plugins NAME` shows a component's documentation and options; -v shows them all")
    return 0
