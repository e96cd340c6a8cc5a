"""Heads for CIFAR-10's two label sets, the fine class and its trunk (vehicle: airplane,
automobile, ship, truck; animal: the other six; recipes/cifar10_hierarchy.csv), in two tables.

Per seed, six runs of recipes/cifar10_hierarchy.toml at the same budget, through the real CLI:
- the leaf run (one 10-way head; every level read off it in metrics.json);
- the trunk (data.level = 1) and the two branches (data.branch), routed by `harness hierarchy`;
- multi-task: fine + trunk heads on one network (data.tasks = ["level_1"]), with the last
  stage's BatchNorm branched per task (model.task_bn) and shared.
Table 1 (hierarchy): leaf and trunk accuracy of the flat head against trunk + branches.
Table 2 (multi-task): each task's accuracy for BN-branched heads, shared heads, and separate
models (the leaf run and the trunk run), with the training wall time of each.
Accuracy is on the 10,000 test photos (the holdout), mean +- sd over seeds; the arms alternate
within each seed.

    python bench/accuracy/hierarchy.py --seeds 0 1 2 [--fraction 0.1 --epochs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import flat_and_routed, mean_sd, record, run_arms, screen_budget, screen_options  # noqa: E402

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "cifar10_hierarchy.toml"
ARMS = {"leaf": [], "trunk": ["--set", "data.level=1"], "vehicle": ["--set", "data.branch='vehicle'"],
        "animal": ["--set", "data.branch='animal'"], "mt_bn": ["--set", "data.tasks=['level_1']"],
        "mt_shared": ["--set", "data.tasks=['level_1']", "--set", "model.task_bn=false"]}


def one_seed(seed: int, work: Path, budget: list[str], reuse: bool) -> dict:
    walls = run_arms(RECIPE, work, seed, ARMS, budget, ROOT, reuse)  # each run's own wall_seconds
    flat, routed = flat_and_routed(work, seed, ("vehicle", "animal"), ROOT)
    row = {"seed": seed, "flat_leaf": flat["leaf"], "flat_trunk": flat["level_1"], "routed_leaf": routed["leaf"],
           "routed_trunk": routed["level_1"], "wall_s": {k: round(v, 1) for k, v in walls.items()}}
    trunk = json.loads((work / f"trunk-s{seed}" / "metrics.json").read_text())["holdout_score"]
    row["separate_fine"], row["separate_trunk"] = flat["leaf"], trunk
    for arm in ("mt_bn", "mt_shared"):
        m = json.loads((work / f"{arm}-s{seed}" / "metrics.json").read_text())
        row[f"{arm}_fine"], row[f"{arm}_trunk"] = m["holdout_score"], m["task_scores"]["level_1"]["holdout"]
        row[f"{arm}_trunk_of_leaf"] = m["level_accuracy"]["holdout"]["level_1"]  # the trunk its labels give
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    screen_options(ap, 0.1, ROOT / "runs" / "bench_hierarchy", "keep finished runs in --work (their own wall_seconds)")
    args = ap.parse_args()
    budget = screen_budget(args)
    rows = [one_seed(s, args.work, budget, args.reuse) for s in args.seeds]
    summary: dict = {"budget": " ".join(budget), "seeds": args.seeds}
    for key in ("flat_leaf", "routed_leaf", "flat_trunk", "routed_trunk"):
        xs = [r[key] for r in rows]
        summary[key] = mean_sd(xs)
    gap = [r["routed_leaf"] - r["flat_leaf"] for r in rows]
    summary["routed_minus_flat_leaf"] = mean_sd(gap, signed=True)
    summary["wall_s_flat"] = statistics.median(r["wall_s"]["leaf"] for r in rows)
    summary["wall_s_trunk_plus_branches"] = statistics.median(
        r["wall_s"]["trunk"] + r["wall_s"]["vehicle"] + r["wall_s"]["animal"] for r in rows)
    summary["raw"] = rows
    record("hierarchy", summary)
    tasks: dict = {"budget": " ".join(budget), "seeds": args.seeds}
    for arm in ("mt_bn", "mt_shared", "separate"):
        for task in ("fine", "trunk"):
            xs = [r[f"{arm}_{task}"] for r in rows]
            tasks[f"{arm}_{task}"] = mean_sd(xs)
    for arm in ("mt_bn", "mt_shared"):
        gap = [r[f"{arm}_fine"] - r["separate_fine"] for r in rows]
        tasks[f"{arm}_minus_separate_fine"] = mean_sd(gap, signed=True)
        tasks[f"wall_s_{arm}"] = statistics.median(r["wall_s"][arm] for r in rows)
    tasks["wall_s_separate"] = statistics.median(r["wall_s"]["leaf"] + r["wall_s"]["trunk"] for r in rows)
    tasks["raw"] = [{k: v for k, v in r.items() if k.startswith(("mt_", "separate", "seed", "wall"))} for r in rows]
    record("multitask", tasks)


if __name__ == "__main__":
    main()
