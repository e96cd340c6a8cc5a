"""One process against two: the same recipe must mean the same experiment on any number of
processes. Trains the digits recipe at a small budget with several `train.seed` values on one
process and on two gloo processes (`accelerate launch`), on the same folds (cv.seed is fixed),
and reports CV mean +- sd of each, the seed-to-seed noise of one process, and the gap.

    python bench/accuracy/processes.py --seeds 0 1 2 3 4 [--digits data/digits]
    python bench/accuracy/processes.py --recipe recipes/cifar10.toml --seeds 0 1 \
        --set data.fraction=0.1 --set "cv.only=[0]" --set train.epochs=4      # 50,000-photo set, screened

Also reports each arm's training images/s (all processes together) and the holdout score where the
recipe has one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import machine, record, set_args, timed  # noqa: E402

ROOT = BENCH.parent
BUDGET = ["--set", "cv.folds=2", "--set", "train.epochs=6"]


def launcher(processes: int) -> list[str]:
    if processes == 1:
        return [sys.executable]
    return ["env", "CUDA_VISIBLE_DEVICES=", sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]


def one_run(processes: int, seed: int, recipe: Path, budget: list[str], work: Path) -> dict[str, float]:
    out = work / f"p{processes}-s{seed}"
    cmd = [*launcher(processes), "-m", "harness", "run", str(recipe), "--out", str(out),
           "--set", f"train.seed={seed}", *budget]
    _, wall, _ = timed(cmd, ROOT)
    metrics = json.loads((out / "metrics.json").read_text())
    setup = json.loads((out / "run.json").read_text())
    return {"cv": metrics["cv_score"], "holdout": metrics.get("holdout_score", float("nan")),
            "train_img_per_s": round(metrics["train_img_per_s"], 1), "wall_s": round(wall, 1),
            "processes": setup["processes"],
            "per_process_batch": setup["per_process_batch"], "global_batch": setup["global_batch"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--digits", type=Path, default=ROOT / "data" / "digits")
    ap.add_argument("--recipe", type=Path, help="another recipe than the digits one, at the budget --set gives")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="a harness --set for --recipe")
    args = ap.parse_args()
    if args.recipe:
        recipe, budget = args.recipe.resolve(), set_args(args.sets)
    else:
        if not (args.digits / "train.csv").is_file():
            timed([sys.executable, "-m", "harness", "data", "digits", str(args.digits)], ROOT)
        recipe, budget = ROOT / "recipes" / "digits.toml", [*BUDGET, "--set", f"data.root='{args.digits.resolve()}'"]
    raw: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:  # alternate, so that drifting machine load hits both alike
            for processes in (1, 2):
                raw[processes].append(one_run(processes, seed, recipe, budget, Path(tmp)))
                print(f"{processes} process(es), seed {seed}: {raw[processes][-1]}", flush=True)
    cv = {p: [r["cv"] for r in rows] for p, rows in raw.items()}
    paired = [b - a for a, b in zip(cv[1], cv[2], strict=True)]
    summary = {
        "recipe": str(recipe.relative_to(ROOT)), "budget": " ".join(budget), "seeds": args.seeds,
        "one_process_cv_mean": statistics.mean(cv[1]), "one_process_cv_sd": statistics.stdev(cv[1]),
        "two_process_cv_mean": statistics.mean(cv[2]), "two_process_cv_sd": statistics.stdev(cv[2]),
        "holdout_one": [r["holdout"] for r in raw[1]], "holdout_two": [r["holdout"] for r in raw[2]],
        "paired_gap_mean": statistics.mean(paired), "paired_gap_max_abs": max(abs(g) for g in paired),
        "wall_s_one": statistics.median(r["wall_s"] for r in raw[1]),
        "wall_s_two": statistics.median(r["wall_s"] for r in raw[2]),
        "train_img_per_s_one": statistics.median(r["train_img_per_s"] for r in raw[1]),
        "train_img_per_s_two": statistics.median(r["train_img_per_s"] for r in raw[2]), "raw": raw,
    }
    record("processes", summary)
    print(machine())


if __name__ == "__main__":
    main()
