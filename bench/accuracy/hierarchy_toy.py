"""The three-level toy that the tests build (`harness.testing.make_tree_toy`: A -> {A1 -> {a, b},
A2 -> {c}}, B -> {d, e}, as ImageFolder nesting), at a noise that makes siblings hard to tell
apart: one flat 5-way head against a trunk run (data.level = 1) routed to two branch runs
(data.branch = A, B) by `harness hierarchy`, accuracy at every level of the holdout, over seeds.

Per seed, four runs through the real CLI (the arms alternate within the seed): the flat leaf run
(every level read off its leaf in metrics.json), the trunk, and the two branches.

    python bench/accuracy/hierarchy_toy.py --seeds 0 1 2 [--per-class 200 --noise 40 --gap 3 --epochs 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import flat_and_routed, mean_sd, record, run_arms  # noqa: E402

ROOT = BENCH.parent
RECIPE = """[data]
root = "{root}"
hierarchy = "folders"
image_size = {size}
num_workers = 0

[model]
name = "test_resnet"

[train]
epochs = {epochs}
batch_size = 64
lr = 0.003

[cv]
folds = 5
only = [0]

[augment]
crop = "resize"
"""
ARMS = {"leaf": [], "trunk": ["--set", "data.level=1"], "A": ["--set", "data.branch='A'"],
        "B": ["--set", "data.branch='B'"]}


def one_seed(seed: int, recipe: Path, work: Path) -> dict:
    walls = run_arms(recipe, work, seed, ARMS, [], ROOT)
    flat, routed = flat_and_routed(work, seed, ("A", "B"), ROOT)
    row = {"seed": seed, **{f"flat_{k}": v for k, v in flat.items()}, **{f"routed_{k}": v for k, v in routed.items()},
           "wall_s": {k: round(v, 1) for k, v in walls.items()}}
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-class", type=int, default=200, help="training photos per leaf (the holdout has as many)")
    ap.add_argument("--noise", type=float, default=40.0, help="the pixels' noise sd")
    ap.add_argument("--gap", type=float, default=3.0, help="siblings' difference in green: against --noise, how hard "
                    "they are to tell apart")
    ap.add_argument("--size", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    from harness.testing import make_tree_toy

    work = Path(tempfile.mkdtemp(prefix="harness-tree-toy-"))
    root = make_tree_toy(work / "toy", args.per_class, args.per_class, args.size, args.noise, args.gap)
    recipe = work / "toy.toml"
    recipe.write_text(RECIPE.format(root=root, size=args.size, epochs=args.epochs))
    rows = [one_seed(s, recipe, work) for s in args.seeds]
    summary: dict = {"seeds": args.seeds, "per_class": args.per_class, "noise": args.noise, "gap": args.gap, "size": args.size,
                     "epochs": args.epochs, "recipe": RECIPE.format(root="TOY", size=args.size, epochs=args.epochs)}
    for key in ("leaf", "level_2", "level_1"):
        for arm in ("flat", "routed"):
            xs = [r[f"{arm}_{key}"] for r in rows]
            summary[f"{arm}_{key}"] = mean_sd(xs)
        gap = [r[f"routed_{key}"] - r[f"flat_{key}"] for r in rows]
        summary[f"routed_minus_flat_{key}"] = mean_sd(gap, signed=True)
    summary["wall_s_flat"] = statistics.median(r["wall_s"]["leaf"] for r in rows)
    summary["wall_s_trunk_plus_branches"] = statistics.median(
        r["wall_s"]["trunk"] + r["wall_s"]["A"] + r["wall_s"]["B"] for r in rows)
    summary["raw"] = rows
    record("hierarchy_toy", summary)


if __name__ == "__main__":
    main()
