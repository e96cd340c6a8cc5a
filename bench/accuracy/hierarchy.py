"""One flat head against a trunk routed to branches, on CIFAR-10's two trunks (vehicle:
airplane, automobile, ship, truck; animal: the other six; recipes/cifar10_hierarchy.csv).

Per seed, four runs of recipes/cifar10_hierarchy.toml at the same budget, through the real CLI:
the leaf run (one 10-way head; every level scored in metrics.json), the trunk (data.level = 1),
and the two branches (data.branch), which `harness hierarchy` routes. Reports the accuracy of
each at the leaves and at the trunk on the 10,000 test photos (the holdout), mean +- sd over
seeds, the paired difference, and each arm's training wall time.

    python bench/accuracy/hierarchy.py --seeds 0 1 2 [--fraction 0.2 --epochs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record, spread, timed  # noqa: E402

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "cifar10_hierarchy.toml"
ARMS = {"leaf": [], "trunk": ["--set", "data.level=1"], "vehicle": ["--set", "data.branch='vehicle'"],
        "animal": ["--set", "data.branch='animal'"]}


def harness(*args: str) -> float:
    _, wall, _ = timed([sys.executable, "-m", "harness", *args], ROOT)
    return wall


def one_seed(seed: int, work: Path, budget: list[str]) -> dict:
    walls = {name: harness("run", str(RECIPE), "--out", str(work / f"{name}-s{seed}"), *budget, *sets,
                           "--set", f"train.seed={seed}", "-q") for name, sets in ARMS.items()}
    flat = json.loads((work / f"leaf-s{seed}" / "metrics.json").read_text())["level_accuracy"]["holdout"]
    out = work / f"routed-s{seed}"
    harness("hierarchy", str(work / f"trunk-s{seed}"), "--branch", str(work / f"vehicle-s{seed}"),
            "--branch", str(work / f"animal-s{seed}"), "--out", str(out))
    routed = json.loads((out / "levels.json").read_text())["accuracy"]["holdout"]
    row = {"seed": seed, "flat_leaf": flat["leaf"], "flat_trunk": flat["level_1"], "routed_leaf": routed["leaf"],
           "routed_trunk": routed["level_1"], "wall_s": {k: round(v, 1) for k, v in walls.items()}}
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_hierarchy")
    args = ap.parse_args()
    budget = ["--set", f"data.fraction={args.fraction}", "--set", "cv.only=[0]", "--set", f"train.epochs={args.epochs}"]
    rows = [one_seed(s, args.work, budget) for s in args.seeds]
    summary: dict = {"budget": " ".join(budget), "seeds": args.seeds}
    for key in ("flat_leaf", "routed_leaf", "flat_trunk", "routed_trunk"):
        xs = [r[key] for r in rows]
        summary[key] = f"{statistics.mean(xs):.4f} +- {spread(xs):.4f}"
    gap = [r["routed_leaf"] - r["flat_leaf"] for r in rows]
    summary["routed_minus_flat_leaf"] = f"{statistics.mean(gap):+.4f} +- {spread(gap):.4f}"
    summary["wall_s_flat"] = statistics.median(r["wall_s"]["leaf"] for r in rows)
    summary["wall_s_trunk_plus_branches"] = statistics.median(
        r["wall_s"]["trunk"] + r["wall_s"]["vehicle"] + r["wall_s"]["animal"] for r in rows)
    summary["raw"] = rows
    record("hierarchy", summary)


if __name__ == "__main__":
    main()
