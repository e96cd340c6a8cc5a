"""Tuning EfficientNet-Lite0's fine-tuning knobs on ants vs bees (`recipes/lite0_tune.toml`: the
learning rate, weight decay, how much of the backbone learns, frozen BatchNorm statistics, epochs,
label smoothing, CutMix) against the recipe as written (`recipes/lite0_finetune.toml`).

1. one full default run of lite0_finetune.toml (5 folds): its wall time, CV and holdout;
2. `harness tune` with N trials (one fold each, the median pruner): wall time, trials pruned;
3. the tuned recipe (`best.toml`) refit in full, like the default: its CV and holdout.

The search sees only its trials' CV accuracy; the labelled val/ holdout is scored by the two full
runs alone, never searched on.

    python bench/accuracy/tune.py                                  # 50 trials: hours on a 2-core CPU
    python bench/accuracy/tune.py --trials 3 --set train.epochs=1  # a smoke run

A `--set KEY=VALUE` applies to all three; where KEY is searched, the search is pinned to VALUE.
Appends the result, with the machine, to bench/results/tune.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record, set_args, timed  # noqa: E402

ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def scores(run: Path) -> dict[str, Any]:
    m = json.loads((run / "metrics.json").read_text())
    return {k: m.get(k) for k in ("cv_score", "holdout_score", "wall_seconds")}


def pinned_recipe(recipe: Path, sets: list[str], out: Path) -> Path:
    """The tuning recipe with its base chain merged, each `--set` key that [tune] searches pinned to
    the value given (one choice), so that a smoke run's `train.epochs=1` holds for trials too."""
    import tomli_w

    from harness.config.recipe import load_raw, parse_override
    from harness.tune.space import parse_tune

    data = load_raw(recipe)
    _, space = parse_tune(data["tune"])
    searched = {p.key for p in space}
    for text in sets:
        parts, value = parse_override(text)
        key = ".".join(parts)
        if key in searched:
            node = data["tune"]
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = {"choices": [value]}
    out.write_text(tomli_w.dumps(data), encoding="utf-8")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "lite0_tune.toml")
    p.add_argument("--default", type=Path, default=ROOT / "recipes" / "lite0_finetune.toml")
    p.add_argument("--sampler", default="tpe")
    p.add_argument("--pruner", default="median")
    p.add_argument("--set", dest="sets", action="append", default=[], help="a harness --set for every run")
    p.add_argument("--out", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    args = p.parse_args()
    scratch = args.out or Path(tempfile.mkdtemp(prefix="harness-bench-tune-"))
    scratch.mkdir(parents=True, exist_ok=True)
    sets = set_args(args.sets)
    harness = [sys.executable, "-m", "harness"]

    _, default_wall, _ = timed([*harness, "run", str(args.default.resolve()), "--out", str(scratch / "default"), *sets], ROOT)
    default = scores(scratch / "default")
    print(f"default run: {default_wall:.0f} s, {json.dumps(default)}", flush=True)

    recipe = pinned_recipe(args.recipe.resolve(), args.sets, scratch / "lite0_tune_bench.toml")
    tune_dir = scratch / "tune"
    _, tune_wall, _ = timed([*harness, "tune", str(recipe), "--out", str(tune_dir), "--trials", str(args.trials),
                             "--sampler", args.sampler, "--pruner", args.pruner, *sets], ROOT)
    summary = json.loads((tune_dir / "summary.json").read_text())
    print(f"tuning: {tune_wall:.0f} s, {summary['complete']} complete, {summary['pruned']} pruned, "
          f"{summary['failed']} failed; best trial {summary['best']['number']}: {summary['best']['value']:.4f}", flush=True)

    _, tuned_wall, _ = timed([*harness, "run", str(tune_dir / "best.toml"), "--out", str(scratch / "tuned"), *sets], ROOT)
    tuned = scores(scratch / "tuned")
    print(f"tuned run: {tuned_wall:.0f} s, {json.dumps(tuned)}", flush=True)

    record("tune", {
        "recipe": str(args.recipe.relative_to(ROOT) if args.recipe.is_relative_to(ROOT) else args.recipe),
        "default_recipe": str(args.default.name), "sets": args.sets, "trials": args.trials,
        "sampler": args.sampler, "pruner": args.pruner,
        "tune_wall_s": round(tune_wall, 1), "default_run_wall_s": round(default_wall, 1),
        "tune_vs_default_run_wall": round(tune_wall / default_wall, 2),
        "trials_complete": summary["complete"], "trials_pruned": summary["pruned"], "trials_failed": summary["failed"],
        "best_trial": summary["best"],
        "default": default, "tuned": tuned, "tuned_run_wall_s": round(tuned_wall, 1),
        "holdout_tuned_minus_default": (None if tuned["holdout_score"] is None or default["holdout_score"] is None
                                        else round(tuned["holdout_score"] - default["holdout_score"], 4)),
        "scratch": str(scratch),
    })


if __name__ == "__main__":
    main()
