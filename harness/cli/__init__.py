"""The command line. Each verb is one module of this package with `add_parser(sub)`, `run(args)`,
`HELP` and `EXAMPLES`; only argparse is imported at start-up, so `harness --help` never imports torch.

Global flags, before or after the verb: `-q` (errors and the final result line only) and `-v`
(per-step detail, and the traceback of an unexpected error). Exit codes: 0 success, 1 an
unexpected failure (one line; `-v` shows the traceback), 2 a usage or configuration error
(argparse's and every `HarnessError`), 130 interrupted, 141 the reader of a pipe went away.
"""

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
    "tune": "tune",
    "data": "data",
    "plugins": "plugins",
    "plugin": "plugin",
    "ensemble": "ensemble",
    "competition": "competition",
    "submit": "submit",
    "leaderboard": "leaderboard",
    "report": "report",
    "predict": "predict",
    "soft-labels": "soft_labels",
    "gate": "gate",
    "hierarchy": "hierarchy",
    "export": "export",
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every verb's parser (the docs generator renders their --help)."""
    p = argparse.ArgumentParser(
        prog="harness",
        description="Kaggle-style image classification: K-fold training from TOML recipes, with plugins.",
    )
    p.add_argument("--version", action="version", version=f"harness {__version__}")
    _verbosity_flags(p, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for module in VERBS.values():
        importlib.import_module(f"harness.cli.{module}").add_parser(sub)
    for verb_parser in _subparsers(p):
        if not {"-q", "-v", "--quiet", "--verbose"} & set(verb_parser._option_string_actions):
            _verbosity_flags(verb_parser, argparse.SUPPRESS)
    return p


def _verbosity_flags(p: argparse.ArgumentParser, default: object) -> None:
    from harness.console import QUIET, VERBOSE

    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=QUIET, default=default,
                       help="print errors and the final result line only")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=VERBOSE, default=default,
                       help="more detail: per-step progress, component docs, tracebacks")


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every verb's parser and their own sub-verbs' (`data check`, `plugin new`), so that -q and -v
    also work after the verb."""
    found = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += [child, *_subparsers(child)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    from harness import console

    parser = build_parser()
    args = parser.parse_args(argv)
    before = console.verbosity()
    if getattr(args, "verbosity", None) is not None:
        console.set_verbosity(args.verbosity)
    try:
        return _run(parser, args)
    finally:
        console.set_verbosity(before)  # main() may run again in this process (tests, notebooks)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from harness import console

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
    except BrokenPipeError:  # `harness plugins -v | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug or an environment problem: one line, the traceback on request
        if console.verbose():
            import traceback

            traceback.print_exc()
        message = " ".join(str(exc).split()) or "(no message)"
        hint = "" if console.verbose() else " (run with -v for the traceback)"
        print(f"harness: error: {type(exc).__name__}: {message}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
