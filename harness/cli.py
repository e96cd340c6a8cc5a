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
    run.add_argument("--resume", action="store_true",
                     help="continue the unfinished run in --out (default: the newest runs/RECIPE_NAME*) exactly")
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


def _resume_dir(recipe: Path, out: Path | None) -> Path:
    if out is None:
        candidates = sorted(Path("runs").glob(f"{recipe.stem}*"), key=lambda p: p.stat().st_mtime)
        unfinished = [p for p in candidates if (p / "recipe.toml").is_file() and not (p / "metrics.json").exists()]
        if not unfinished:
            raise HarnessError(f"--resume: no unfinished run of {recipe.stem} under runs/; give --out DIR")
        out = unfinished[-1]
    if not (out / "recipe.toml").is_file():
        raise HarnessError(f"--resume: {out} holds no run to resume (no recipe.toml)")
    if (out / "metrics.json").exists():
        raise HarnessError(f"--resume: the run in {out} has already finished")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins
    from harness.train.run import run_experiment

    plugins = load_plugins()
    if args.resume:
        if args.overrides:
            raise HarnessError("--resume continues the run as it was recorded; --set cannot change it")
        out = _resume_dir(args.recipe, args.out)
        recipe = load_recipe(out / "recipe.toml", (), plugins)
    else:
        recipe = load_recipe(args.recipe, args.overrides, plugins)
        out = args.out or _default_out(args.recipe)
        if (out / "recipe.toml").is_file():
            state = "a finished run" if (out / "metrics.json").exists() else "an unfinished run (add --resume)"
            raise HarnessError(f"--out {out} already holds {state}; choose another folder")
    run_experiment(recipe, out, plugins, resume=args.resume)
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
