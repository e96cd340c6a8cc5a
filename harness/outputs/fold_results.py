"""A finished fold on disk: per-view logits (`logits.npz`), ensembled probabilities per set, and
`result.json`, written last, which marks the fold done so that a resumed run skips it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.competition import Split
from harness.outputs.checkpoint import atomic_write
from harness.outputs.tables import prob_frame

RESULT = "result.json"


@dataclass
class FoldResult:
    fold: int
    score: float
    best_epoch: int
    best_weights: str  # "raw" or a callback's candidate name such as "ema"
    candidate_scores: dict[str, float]
    oof: dict[str, np.ndarray]  # view -> logits, rows in valid order
    predictions: dict[str, dict[str, np.ndarray]]  # set -> view -> logits
    history: list[dict[str, Any]] = field(default_factory=list)
    train_img_per_s: list[float] = field(default_factory=list)
    predict_img_per_s: float = 0.0
    predict_seconds: float = 0.0  # predicting OOF, test and holdout with every view
    step_losses: list[float] = field(default_factory=list)
    stop_reason: str = ""  # why training stopped before its last epoch ("" when it ran them all)
    stop_run: bool = False  # the stop ended the whole run
    tasks: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)  # task -> "oof"/set -> view -> logits


def write_fold(fold_dir: Path, result: FoldResult, valid: Split, predict_sets: dict[str, Split],
               classes: Sequence[str], id_col: str, ensemble_views: Callable[[dict[str, np.ndarray]], np.ndarray]) -> None:
    fold_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {f"oof/{v}": x for v, x in result.oof.items()}
    arrays["oof_ids"] = np.array(valid.ids)
    for set_name, views in result.predictions.items():
        arrays.update({f"{set_name}/{v}": x for v, x in views.items()})
        arrays[f"{set_name}_ids"] = np.array(predict_sets[set_name].ids)
        probs = ensemble_views(views)
        prob_frame(predict_sets[set_name].ids, probs, classes, id_col).to_csv(fold_dir / f"{set_name}_probs.csv", index=False)
    for task, sets in result.tasks.items():
        arrays.update({f"tasks/{task}/{s}/{v}": x for s, views in sets.items() for v, x in views.items()})
    atomic_write(fold_dir / "logits.npz", lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))
    (fold_dir / "steps.csv").write_text("step,loss\n" + "".join(f"{i},{x!r}\n" for i, x in enumerate(result.step_losses)))
    summary = {
        "fold": result.fold, "score": result.score, "best_epoch": result.best_epoch,
        "best_weights": result.best_weights, "candidate_scores": result.candidate_scores,
        "history": result.history, "train_img_per_s": result.train_img_per_s,
        "predict_img_per_s": result.predict_img_per_s,
        "predict_seconds": result.predict_seconds, "views": list(result.oof),
        "sets": {k: list(v) for k, v in result.predictions.items()},
        "stop_reason": result.stop_reason, "stop_run": result.stop_run,
        "tasks": {t: {s: list(views) for s, views in sets.items()} for t, sets in result.tasks.items()},
    }
    atomic_write(fold_dir / RESULT, lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))


def read_fold(fold_dir: Path) -> FoldResult | None:
    """The finished fold's result, or None when the fold has not finished."""
    try:
        summary = json.loads((fold_dir / RESULT).read_text())
        with np.load(fold_dir / "logits.npz") as npz:  # read whole, and the file closed
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError):
        return None
    steps = (fold_dir / "steps.csv").read_text().splitlines()[1:]
    return FoldResult(
        fold=summary["fold"], score=summary["score"], best_epoch=summary["best_epoch"],
        best_weights=summary["best_weights"], candidate_scores=summary["candidate_scores"],
        oof={v: arrays[f"oof/{v}"] for v in summary["views"]},
        predictions={s: {v: arrays[f"{s}/{v}"] for v in views} for s, views in summary["sets"].items()},
        history=summary["history"], train_img_per_s=summary["train_img_per_s"],
        predict_img_per_s=summary["predict_img_per_s"],
        predict_seconds=summary.get("predict_seconds", 0.0), step_losses=[float(line.split(",")[1]) for line in steps],
        stop_reason=summary.get("stop_reason", ""), stop_run=summary.get("stop_run", False),
        tasks={t: {s: {v: arrays[f"tasks/{t}/{s}/{v}"] for v in views} for s, views in sets.items()}
               for t, sets in summary.get("tasks", {}).items()},
    )
