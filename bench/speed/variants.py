"""One recipe trained end to end under each of several variants (a list of `--set` overrides each),
the variants alternating each round: training images/s (the median of each run's epochs after the
first), holdout accuracy, wall time and peak RSS, and each variant's images/s over the first's.

    python bench/speed/variants.py      # recipes/cifar10_cpu.toml: fp32, bf16, and fp32 at batch 1024
    python bench/speed/variants.py --variant fp32="train.precision='fp32'" \\
        --variant bf16="train.precision='bf16'" --fraction 1.0 --epochs 10 --rounds 1

Why: until 2026-12-06 `precision = "auto"` trained in bf16 on a CPU only with AMX
(docs/precision.md). On a CPU with AVX-512 BF16 and no AMX (AMD EPYC Zen 4), bf16 sped a step of
resnet18 up 2.2x on tensors in memory but not Lite0's whole run (0.99x), where the loader
dominated. A recipe that reads whole batches from the decoded array (`data.array`, data-wait
under 1%) is where the step's own speed shows; this measured it, and `auto` now picks bf16 there.
The batch is the other variant: on a CPU a smaller batch can run more images a second, or fewer.
The runs train fold 0 of 50 of `data.fraction` of the training set and score the labelled test/
folder (with `--common`'s overrides: by default one TTA view, to keep the prediction short).

Appends one row, with the machine, to bench/results/variants.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record, timed_run  # noqa: E402

ROOT = BENCH.parent
DEFAULT_VARIANTS = ["fp32=train.precision='fp32'", "bf16=train.precision='bf16'",
                    "fp32-b1024=train.precision='fp32';train.batch_size=1024"]


def parse_variant(text: str) -> tuple[str, list[str]]:
    """NAME=SET;SET... -> (NAME, [SET, ...]); an empty list after '=' is the recipe as written."""
    name, sep, sets = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {text!r}: expected NAME=KEY=VALUE;KEY=VALUE (or NAME= for the recipe as written)")
    return name, [s for s in sets.split(";") if s]


def one_run(recipe: Path, out: Path, sets: list[str]) -> dict[str, Any]:
    """`harness run RECIPE --set ...`: its epochs' images/s, holdout score, wall and peak RSS."""
    metrics, rows, wall, rss = timed_run(recipe, out, sets, ROOT)
    rates = [r["train_img_per_s"] for r in rows]
    return {"img_per_s": round(statistics.median(rates[1:] or rates), 1), "epoch_img_per_s": [round(r, 1) for r in rates],
            "data_wait": round(statistics.median(r.get("data_wait_fraction", 0.0) for r in rows), 4),
            "holdout": metrics.get("holdout_score"), "wall_s": round(wall, 1), "peak_rss_mib": round(rss)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, default=Path("recipes/cifar10_cpu.toml"))
    p.add_argument("--variant", action="append", default=None, metavar="NAME=SET;SET",
                   help="a variant's --set overrides joined by ';' (repeatable; default: fp32, bf16, fp32 at batch 1024)")
    p.add_argument("--common", action="append", default=["tta.views=['identity']"], metavar="KEY=VALUE",
                   help="an override every run gets (default: one TTA view)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--fraction", type=float, default=0.3)
    p.add_argument("--work", type=Path, default=None, help="the scratch folder (default: a new temporary one)")
    args = p.parse_args()
    variants = dict(parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS))
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="variants-bench-"))
    budget = [f"train.epochs={args.epochs}", "cv.folds=50", "cv.only=[0]", f"data.fraction={args.fraction:g}",
              f"data.cache_dir='{work / 'cache'}'", *args.common]
    # the decoded array, built before any timed run (its key is the files, so every fraction reads it)
    one_run(args.recipe, work / "warmup", [*budget, "train.epochs=1", "data.fraction=0.02"])
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for i in range(args.rounds):
        for name in (list(variants) if i % 2 == 0 else list(variants)[::-1]):
            row = one_run(args.recipe, work / f"{name}-{i}", [*budget, *variants[name]])
            runs[name].append(row)
            print(f"round {i} {name}: {json.dumps(row)}", flush=True)
    table = {v: {"img_per_s": round(statistics.median(r["img_per_s"] for r in rows), 1),
                 "holdout": [r["holdout"] for r in rows], "wall_s": round(statistics.median(r["wall_s"] for r in rows), 1),
                 "peak_rss_mib": max(r["peak_rss_mib"] for r in rows)} for v, rows in runs.items()}
    first = next(iter(variants))
    record("variants", {"recipe": str(args.recipe), "variants": variants, "budget": budget, "rounds": args.rounds,
                        "table": table,
                        "img_per_s_vs_first": {v: round(t["img_per_s"] / table[first]["img_per_s"], 3)
                                               for v, t in table.items()},
                        "raw": runs})


if __name__ == "__main__":
    main()
