"""`harness plugin new`: scaffold a plugin package (pyproject with the entry point, one component,
its contract tests, a README) that `pip install -e` makes visible to `harness plugins`."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import kinds
from harness.errors import HarnessError

# `--kind`: every kind of harness.kinds has a template; loss (the default) first.
KINDS = ("loss", *(k.template for k in kinds.KINDS if k.template != "loss"))
HELP = "scaffold a plugin package: entry point, one component, contract tests, README"
EXAMPLES = """examples:
  harness plugin new random-erasing --kind batch_transform    # writes ./harness-random-erasing/
  harness plugin new swa --kind callback --dir ~/src
  harness plugin new poly-loss --kind loss --dir plugins-src

then:
  cd harness-random-erasing && pip install -e . && python -m pytest -q
  harness plugins random_erasing          # its docs and options, as a recipe sees them

The package is named harness-NAME, imports as harness_NAME and offers the component NAME (dashes
become underscores). docs/hooks.md documents every hook and the data format at each."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugin", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    plugin_sub = p.add_subparsers(dest="plugin_command", metavar="PLUGIN_COMMAND")
    new = plugin_sub.add_parser("new", help="write a new plugin package", description=HELP, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("name", help="the component's name, such as random-erasing (the package is harness-NAME)")
    new.add_argument("--kind", choices=KINDS, default="loss", help="the kind of component (default: loss)")
    new.add_argument("--dir", type=Path, default=Path("."), help="where to create the package folder (default: .)")


def run(args: argparse.Namespace) -> int:
    if args.plugin_command != "new":
        raise HarnessError("usage: harness plugin new NAME [--kind KIND] [--dir DIR] (see harness plugin --help)")
    from harness.testing.scaffold import scaffold

    made = scaffold(args.name, args.kind, args.dir)
    for path in made.files:
        print(f"  {path}")
    print(f"wrote the {args.kind} plugin package {made.dist} in {made.root}; next: "
          f"cd {made.root} && pip install -e . && python -m pytest -q")
    return 0
