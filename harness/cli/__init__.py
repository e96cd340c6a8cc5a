"""The command line. Each verb is one module of this package with `add_parser(sub)` and
`run(args)`; only argparse is imported at start-up, so `harness --help` never imports torch."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import HarnessError

# verb -> module under harness.cli; the order is the order of `harness --help`.
VERBS: dict[str, str] = {
    "run": "run",
    "data": "data",
    "plugins": "plugins",
    "ensemble": "ensemble",
    "competition": "competition",
    "submit": "submit",
    "leaderboard": "leaderboard",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="harness",
        description="Kaggle-style image classification: K-fold training from TOML recipes, with plugins.",
    )
    p.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for module in VERBS.values():
        importlib.import_module(f"harness.cli.{module}").add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    verb = importlib.import_module(f"harness.cli.{VERBS[args.command]}")
    try:
        return int(verb.run(args))
    except HarnessError as exc:
        message = " ".join(str(exc).split("\n"))  # always one line, whatever the message quotes
        print(f"harness: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
