"""A whole K-fold `harness run` of a shipped recipe, without and with the decoded-image cache,
alternating, several rounds: wall time, training and prediction images/s, the fraction of step
time spent waiting for data, peak RSS and the scores (the cache must not cost accuracy).

    python bench/speed/whole_run.py recipes/lite0_finetune.toml --rounds 2

Appends medians and ratios, with the machine, to bench/results/whole_run.jsonl.
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
from common import record, timed_run  # noqa: E402

ROOT = BENCH.parent
KEYS = ("train_img_per_s", "predict_img_per_s", "data_wait_fraction", "cv_score", "holdout_score")


def run(recipe: Path, cache: bool, scratch: Path, sets: list[str]) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    cache_sets = [f"data.cache={str(cache).lower()}", f"data.cache_dir='{scratch / 'cache'}'"]
    m, _, wall, rss = timed_run(recipe, out, [*cache_sets, *sets], ROOT)
    return {**{k: m[k] for k in KEYS if k in m}, "wall_s": wall, "peak_rss_mib": rss}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("recipe", type=Path)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--set", dest="sets", action="append", default=[], help="extra harness --set")
    args = p.parse_args()
    recipe = args.recipe.resolve()  # the runs start in the repository root, wherever this was called from
    scratch = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    run(recipe, True, scratch, [*args.sets, "cv.only=[0]", "train.epochs=1"])  # fills the cache and OS file cache
    runs: dict[str, list[dict[str, float]]] = {"uncached": [], "cached": []}
    for r in range(args.rounds):
        for name in (["uncached", "cached"] if r % 2 == 0 else ["cached", "uncached"]):
            runs[name].append(run(recipe, name == "cached", scratch, args.sets))
            print(f"round {r + 1} {name}: {json.dumps(runs[name][-1])}", flush=True)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in runs.items()}
    summary = {
        "recipe": str(args.recipe), "sets": args.sets,
        "rounds": args.rounds, "medians": med,
        "cached_vs_uncached_train": med["cached"]["train_img_per_s"] / med["uncached"]["train_img_per_s"],
        "cached_vs_uncached_predict": med["cached"]["predict_img_per_s"] / med["uncached"]["predict_img_per_s"],
        "uncached_vs_cached_wall": med["uncached"]["wall_s"] / med["cached"]["wall_s"],
        "raw": runs,
    }
    record("whole_run", summary)


if __name__ == "__main__":
    main()
