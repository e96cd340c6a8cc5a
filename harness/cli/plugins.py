"""`harness plugins`: every registered plugin, where it comes from, and what each hook offers."""

from __future__ import annotations

import argparse

HELP = "list the registered plugins and the hooks they implement"
EXAMPLES = """examples:
  harness plugins"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("plugins", help=HELP, description=HELP, epilog=EXAMPLES,
                   formatter_class=argparse.RawDescriptionHelpFormatter)


def run(args: argparse.Namespace) -> int:
    from harness.plugin_manager import load_plugins

    plugins = load_plugins()
    for info in plugins.info():
        print(f"{info.name}  [{info.source}]")
        for hook, names in info.hooks:
            print(f"    {hook}: {', '.join(names)}")
    return 0
