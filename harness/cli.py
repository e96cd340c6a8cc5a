"""The command line. Only argparse at import time: `harness --help` never imports torch."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="harness",
        description="Kaggle-style image classification: K-fold training from TOML recipes, with plugins.",
    )
    p.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="train K folds from a recipe and write a submission")
    run.add_argument("recipe", type=Path, help="recipe TOML file")
    run.add_argument("--out", type=Path, default=None, help="run folder (default: runs/RECIPE_NAME)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set train.lr=0.001 (repeatable)")

    data = sub.add_parser("data", help="make or check competition data")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    digits = data_sub.add_parser("digits", help="write the digits competition (scikit-learn's 8x8 scans)")
    digits.add_argument("dir", type=Path)
    check = data_sub.add_parser("check", help="report every unreadable image in a competition folder")
    check.add_argument("dir", type=Path)
    check.add_argument("--recipe", type=Path, default=None, help="read column and folder names from a recipe")

    sub.add_parser("plugins", help="list the registered plugins and the hooks they implement")
    return p


def _default_out(recipe: Path) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... when NAME holds a finished run. Decided on the main
    process and shared, so every process of a launch writes to the same folder."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    chosen = [""]
    if state.is_main_process:
        base = Path("runs") / recipe.stem
        out, n = base, 1
        while (out / "metrics.json").exists():
            n += 1
            out = base.with_name(f"{base.name}-{n}")
        chosen = [str(out)]
    if state.num_processes > 1:
        broadcast_object_list(chosen)
    return Path(chosen[0])


def cmd_run(args: argparse.Namespace) -> int:
    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins
    from harness.train.run import run_experiment

    plugins = load_plugins()
    recipe = load_recipe(args.recipe, args.overrides, plugins)
    out = args.out or _default_out(args.recipe)
    run_experiment(recipe, out, plugins)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    if args.data_command == "digits":
        from harness.data.digits import write_digits

        counts = write_digits(args.dir)
        print(f"wrote {counts['train']} train and {counts['test']} test images ({counts['classes']} classes) "
              f"to {args.dir}; answer key in {args.dir / 'private' / 'solution.csv'}")
        return 0
    if args.data_command == "check":
        from harness.data.report import check_folder

        return check_folder(args.dir, args.recipe)
    raise HarnessError("usage: harness data {digits,check} DIR")


def cmd_plugins(args: argparse.Namespace) -> int:
    from harness.plugin_manager import load_plugins

    plugins = load_plugins()
    for info in plugins.info():
        print(f"{info.name}  [{info.source}]")
        for hook, names in info.hooks:
            print(f"    {hook}: {', '.join(names)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {"run": cmd_run, "data": cmd_data, "plugins": cmd_plugins}
    try:
        return handlers[args.command](args)
    except HarnessError as exc:
        message = " ".join(str(exc).split("\n"))  # always one line, whatever the message quotes
        print(f"harness: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
