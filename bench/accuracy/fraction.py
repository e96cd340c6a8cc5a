"""A whole run of a shipped recipe on all of its training set against `data.fraction` of it
(stratified, seeded by cv.seed, folds made on the subset), alternating, several rounds: wall time
and scores. The fast-experiment loop a competitor uses before a full run.

    python bench/accuracy/fraction.py recipes/lite0_finetune.toml --fraction 0.1 --rounds 2

Appends medians and the ratio, with the machine, to bench/results/fraction.jsonl.
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
from common import last_cpu_seconds, record, timed_run  # noqa: E402

ROOT = BENCH.parent


def run(recipe: Path, fraction: float, scratch: Path) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    metrics, _, wall, _ = timed_run(recipe, out, [f"data.fraction={fraction}"], ROOT)
    manifest = json.loads((out / "run.json").read_text())
    return {"wall_s": round(wall, 1), "cpu_s": round(last_cpu_seconds(), 1), "cv_score": metrics["cv_score"],
            "holdout_score": metrics.get("holdout_score", -1.0),
            "train_images": manifest["train"]["count"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("recipe", type=Path)
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    raw: dict[str, list[dict[str, float]]] = {"full": [], "fraction": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [("fraction", args.fraction), ("full", 1.0)]
            for name, fraction in order if r % 2 == 0 else order[::-1]:
                raw[name].append(run(args.recipe.resolve(), fraction, Path(tmp)))
                print(name, raw[name][-1], flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in raw.items()}
    record("fraction", {"recipe": str(args.recipe), "data_fraction": args.fraction, "rounds": args.rounds, **med,
                        "wall_ratio_full_over_fraction": med["full"]["wall_s"] / med["fraction"]["wall_s"],
                        "cpu_ratio_full_over_fraction": med["full"]["cpu_s"] / med["fraction"]["cpu_s"], "raw": raw})


if __name__ == "__main__":
    main()
