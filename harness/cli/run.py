"""`harness run`: train K folds from a recipe and write the run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError

HELP = "train K folds from a recipe and write a submission"
EXAMPLES = """examples:
  harness run recipes/digits.toml
  harness run recipes/lite0_finetune.toml --set data.root=DIR --set train.epochs=3
  harness run --resume --out runs/digits        # continue a killed run: its recorded recipe.toml runs
  harness run recipes/digits.toml --resume      # ... the newest unfinished runs/digits*
  accelerate launch --multi_gpu --num_processes 2 -m harness run recipes/digits.toml

--resume runs the recipe the run folder recorded (DIR/recipe.toml, with the --set values it was started
with), so it takes no --set, not even one that repeats a recorded value; a RECIPE given with it only
finds the folder when --out is left out."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help=HELP, description=HELP, epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("recipe", type=Path, nargs="?", default=None,
                     help="recipe TOML file (with --resume: optional, finds runs/RECIPE_NAME* when --out is not given)")
    run.add_argument("--out", type=Path, default=None, help="run folder (default: runs/RECIPE_NAME)")
    run.add_argument("--resume", action="store_true",
                     help="continue the unfinished run in --out (default: the newest runs/RECIPE_NAME*) exactly, "
                          "with the recipe it recorded; takes no --set")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set train.lr=0.001 (repeatable; not with --resume)")


def default_out(recipe: Path) -> Path:
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


def resume_dir(recipe: Path | None, out: Path | None) -> Path:
    """The run folder --resume continues: --out, else the newest unfinished runs/RECIPE_NAME*."""
    if out is None:
        if recipe is None:
            raise HarnessError("--resume needs the run folder: harness run --resume --out DIR")
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


def run(args: argparse.Namespace) -> int:
    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins
    from harness.train.run import run_experiment

    if args.recipe is None and not args.resume:
        raise HarnessError("harness run needs a recipe (harness run RECIPE.toml), or --resume --out DIR")
    plugins = load_plugins()
    if args.resume:
        if args.overrides:
            raise HarnessError("--resume continues the run as it was recorded in its recipe.toml; --set cannot "
                               "change it (leave --set out, or start a new run with another --out)")
        out = resume_dir(args.recipe, args.out)
        recipe = load_recipe(out / "recipe.toml", (), plugins)
    else:
        recipe = load_recipe(args.recipe, args.overrides, plugins)
        out = args.out or default_out(args.recipe)
        if (out / "recipe.toml").is_file():
            state = ("a finished run" if (out / "metrics.json").exists()
                     else f"an unfinished run (continue it with `harness run --resume --out {out}`)")
            raise HarnessError(f"--out {out} already holds {state}; choose another folder")
    summary = run_experiment(recipe, out, plugins, resume=args.resume)
    from harness import console

    m = summary.metrics
    if console.quiet() and m:  # the progress (and its last line) is silent under -q; the result is not
        holdout = f", holdout {m['holdout_score']:.4f}" if "holdout_score" in m else ""
        print(f"cv {recipe.cv.metric} {m['cv_score']:.4f}{holdout} -> {out}")
    return 0
