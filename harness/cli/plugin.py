"""`harness plugin new`: scaffold a plugin package (pyproject with the entry point, one component,
its contract tests, a README) that `pip install -e` makes visible to `harness plugins`."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import kinds
from harness.errors import HarnessError

# `--kind`: every kind of harness.kinds has a template; loss (the default) first.
KINDS = ("loss", *(k.template for k in kinds.KINDS if k.template != "loss"))
HELP = "scaffold a plugin package: entry points, example components, contract tests, README"
EXAMPLES = """examples:
  harness plugin new random-erasing --kind batch_transform    # writes ./harness-random-erasing/
  harness plugin new swa --kind callback --dir ~/src
  harness plugin new kit --kind loss:poly1 --kind metric:map3 --kind callback:lr_log   # one package, three kinds

then:
  cd harness-random-erasing && pip install -e . && python -m pytest -q
  harness plugins random_erasing          # its docs and options, as a recipe sees them

With one --kind, the package harness-NAME imports as harness_NAME and offers the component NAME
(dashes become underscores). With --kind repeated, each component is a module of its own,
harness_NAME/COMPONENT.py, with its own entry point and test file; KIND:COMPONENT names it (default
NAME_KIND). Each module is a working EXAMPLE (Poly-1 for a loss, ...), labelled as one: replace its
math, options and doc line with yours. Each test file sets `plugins = (module,)`, so the tests run
before the package is installed. docs/hooks.md documents every hook and the data format at each."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugin", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    plugin_sub = p.add_subparsers(dest="plugin_command", metavar="PLUGIN_COMMAND")
    new = plugin_sub.add_parser("new", help="write a new plugin package", description=HELP, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("name", help="the package's name, such as random-erasing (the package is harness-NAME)")
    new.add_argument("--kind", action="append", default=[], metavar="KIND[:COMPONENT]",
                     help=f"the kind of component, one of {', '.join(KINDS)} (default: loss); repeat it for several "
                          "components in one package, KIND:COMPONENT names each")
    new.add_argument("--dir", type=Path, default=Path("."), help="where to create the package folder (default: .)")


def run(args: argparse.Namespace) -> int:
    if args.plugin_command != "new":
        raise HarnessError("usage: harness plugin new NAME [--kind KIND[:COMPONENT] ...] [--dir DIR] "
                           "(see harness plugin --help)")
    from harness.testing.scaffold import scaffold

    made = scaffold(args.name, args.kind or ["loss"], args.dir)
    for path in made.files:
        print(f"  {path}")
    offered = ", ".join(f"the {p.kind.replace('_', ' ')} {p.component}" for p in made.parts)
    print(f"wrote the plugin package {made.dist} in {made.root}: {offered} (example code to replace with yours); "
          f"next: cd {made.root} && pip install -e . && python -m pytest -q")
    return 0
