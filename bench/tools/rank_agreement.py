"""Do two `harness tune` studies over the same space rank the same values alike? A cheap study's
trials (a fraction of the rows, few updates) against a dear one's (about the full run's updates):
if they disagree, the cheap study's winner says little about the full run.

    python bench/tools/rank_agreement.py /work/tune10w/tune /work/tune10f/tune

Trials are paired by their searched values (rounded to 6 significant digits); each trial is
scored by its last epoch's `val_score` on fold 0 (no TTA, so a complete trial and one pruned after
its last epoch count alike), and a trial stopped before its last epoch is left out. Prints each
pair, Spearman's and Kendall's rank correlations (scipy), and where each study's best lands in the
other; each pair also carries the studies' own values (with the recipe's TTA) of its complete
trials. Appends to bench/results/rank_agreement.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402
from prune_replay import curves  # noqa: E402


def finished(folder: Path) -> tuple[dict[tuple, int], dict[int, float], dict[int, float]]:
    """Each trial's searched values -> its number, the last-epoch score of every trial that
    trained all its epochs, and the study's value (with TTA) of every complete trial."""
    import pandas as pd

    trials = pd.read_csv(folder / "trials.csv")
    keys = [c for c in trials.columns if "." in c]  # the searched keys: train.lr, loss.smoothing, ...
    values = {tuple(float(f"{float(v):.6g}") for v in row[keys]): int(row.number) for _, row in trials.iterrows()}
    scores, finals, _, _ = curves(folder)
    full = max(len(c) for c in scores.values())  # a trial's epochs: what every complete trial ran
    return values, {n: c[-1] for n, c in scores.items() if len(c) == full}, finals


def ranks(pairs: list[dict[str, Any]], study: str) -> dict[int, int]:
    """Each pair's rank (1: best) by `study`'s score, keyed by the pair's id."""
    return {id(p): r for r, p in enumerate(sorted(pairs, key=lambda p: -p[study]), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cheap", type=Path, help="the cheap study's `harness tune` folder")
    ap.add_argument("dear", type=Path, help="the dear study's `harness tune` folder (the same space)")
    args = ap.parse_args()
    from scipy.stats import kendalltau, spearmanr

    (cheap_values, cheap, cheap_final), (dear_values, dear, dear_final) = finished(args.cheap), finished(args.dear)
    pairs: list[dict[str, Any]] = []
    for values, n in sorted(cheap_values.items(), key=lambda kv: kv[1]):
        m = dear_values.get(values)
        if m is not None and n in cheap and m in dear:
            pairs.append({"values": values, "cheap_trial": n, "dear_trial": m, "cheap": cheap[n], "dear": dear[m],
                          "cheap_value": cheap_final.get(n), "dear_value": dear_final.get(m)})
            print(json.dumps(pairs[-1]), flush=True)
    if len(pairs) < 3:
        raise SystemExit(f"only {len(pairs)} trials finished in both studies with the same values: nothing to rank")
    x, y = [p["cheap"] for p in pairs], [p["dear"] for p in pairs]
    best_cheap, best_dear = max(pairs, key=lambda p: p["cheap"]), max(pairs, key=lambda p: p["dear"])
    rank, rank_cheap = ranks(pairs, "dear"), ranks(pairs, "cheap")
    record("rank_agreement", {
        "cheap": str(args.cheap), "dear": str(args.dear), "pairs": len(pairs),
        "spearman": round(float(spearmanr(x, y).statistic), 3), "kendall": round(float(kendalltau(x, y).statistic), 3),
        "cheap_best": {"trial": best_cheap["cheap_trial"], "its_rank_in_dear": rank[id(best_cheap)]},
        "dear_best": {"trial": best_dear["dear_trial"], "its_rank_in_cheap": rank_cheap[id(best_dear)]},
        "raw": pairs})


if __name__ == "__main__":
    main()
