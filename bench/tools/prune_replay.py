"""Replay a finished `harness tune` study's epoch scores through Optuna's pruners: where would each
pruner have stopped each trial, and how did the trials it stopped end?

    python bench/tools/prune_replay.py runs/tune-cifar10_tune --pruners worst median

Each complete trial is replayed against the other complete trials (left out of its own reference,
as if it had run last); a trial that was pruned is replayed against all the complete trials, as far
as it ran. Every trial's epoch log (`trials/NNNN/log.jsonl`, `val_score` of fold 0) is fed to the
real pruner of `harness.tune.pruner.make_pruner`, with no startup trials and `--warmup` epochs.
Appends to bench/results/prune_replay.jsonl.
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

from harness.outputs.epoch_log import read_log  # noqa: E402
from harness.tune.pruner import make_pruner  # noqa: E402


def curves(folder: Path) -> tuple[dict[int, list[float]], dict[int, float], set[int], str]:
    """Each trial's fold-0 `val_score` per epoch, the complete trials' final values, which trials
    completed, and the study's direction."""
    import pandas as pd

    trials = pd.read_csv(folder / "trials.csv")
    summary = json.loads((folder / "summary.json").read_text())
    scores = {int(n): [r["val_score"] for r in read_log(folder / "trials" / f"{int(n):04d}") if r.get("fold", 0) == 0]
              for n in trials.number}
    complete = {int(n) for n, s in zip(trials.number, trials.state, strict=True) if s == "COMPLETE"}
    finals = {int(n): float(v) for n, v in zip(trials.number, trials.value, strict=True) if int(n) in complete}
    return scores, finals, complete, summary.get("direction", "maximize")


def stopped_at(pruner: str, direction: str, reference: list[list[float]], curve: list[float], warmup: int) -> int | None:
    """The 1-based epoch after which `pruner` stops `curve`, given complete trials `reference`."""
    import optuna

    study = optuna.create_study(direction=direction, pruner=make_pruner(pruner, 0, warmup, len(curve)))
    for ref in reference:
        study.add_trial(optuna.create_trial(value=ref[-1], params={}, distributions={},
                                            intermediate_values=dict(enumerate(ref))))
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(value, step)
        if trial.should_prune():
            return step + 1
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="a `harness tune` folder (trials.csv, summary.json, trials/)")
    ap.add_argument("--pruners", nargs="+", default=["worst", "median"])
    ap.add_argument("--warmup", type=int, default=0, help="epochs reported before a trial may be stopped")
    args = ap.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scores, finals, complete, direction = curves(args.folder)
    rows: dict[int, dict[str, Any]] = {}
    for n, curve in scores.items():
        reference = [scores[m] for m in sorted(complete) if m != n]
        rows[n] = {"trial": n, "complete": n in complete, "final": finals.get(n), "epochs_run": len(curve),
                   **{name: stopped_at(name, direction, reference, curve, args.warmup) for name in args.pruners}}
        print(json.dumps(rows[n]), flush=True)
    ranked = sorted(finals, key=finals.__getitem__, reverse=direction == "maximize")
    summary = {name: {"complete_stopped": [n for n in ranked if rows[n][name] is not None],
                      "best_stopped": bool(ranked) and rows[ranked[0]][name] is not None,
                      "pruned_stopped": sum(1 for r in rows.values() if not r["complete"] and r[name] is not None)}
               for name in args.pruners}
    record("prune_replay", {"folder": str(args.folder), "direction": direction, "warmup": args.warmup,
                            "ranked_complete": ranked, "summary": summary, "rows": list(rows.values())})


if __name__ == "__main__":
    main()
