"""The numbers behind the page: each fold's score with and without TTA and per candidate
weights, the confusion matrix, per-class precision and recall, and calibration bins. Plain
functions of arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.metrics import score
from harness.report.folder import RunFolder
from harness.specs import MetricSpec


@dataclass(frozen=True)
class FoldRow:
    fold: str  # "0", "1", ... or "all"
    images: int
    with_tta: float
    without_tta: float | None
    candidates: dict[str, float]  # best validation score of each candidate's weights (first view)
    chosen: str
    best_epoch: int | None


def fold_rows(run: RunFolder, metric: MetricSpec) -> list[FoldRow]:
    """One row per fold, then the whole OOF ("all")."""
    y, probs = run.labels(), run.probs()
    folds = run.oof["fold"].to_numpy()
    rows = []
    for f in run.folds:
        mask = folds == f.fold
        if not mask.any():
            continue
        plain = None  # an ensemble folder's one view is the ensemble: no "without TTA" to show
        if not run.is_ensemble and f.first_view_probs is not None and len(f.oof_ids) == int(mask.sum()):
            lookup = {i: r for r, i in enumerate(f.oof_ids)}
            order = [lookup[i] for i in run.oof["id"][mask]]
            plain = score(metric, y[mask], f.first_view_probs[order])
        best = f.result.get("best_epoch")
        rows.append(FoldRow(str(f.fold), int(mask.sum()), score(metric, y[mask], probs[mask]), plain,
                            dict(f.result.get("candidate_scores", {})), str(f.result.get("best_weights", "")),
                            None if best is None else int(best)))
    no_tta = run.metrics.get("cv_score_no_tta")
    rows.append(FoldRow("all", len(y), score(metric, y, probs), None if no_tta is None else float(no_tta), {}, "", None))
    return rows


def confusion(y: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted ones."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def precision_recall(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: precision, recall (NaN where undefined) and support."""
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / predicted, tp / support, support


@dataclass(frozen=True)
class Calibration:
    edges: np.ndarray  # bins + 1 edges on [0, 1]
    confidence: np.ndarray  # mean top-class probability per bin (NaN when empty)
    accuracy: np.ndarray  # share correct per bin (NaN when empty)
    counts: np.ndarray
    ece: float  # expected calibration error (Guo et al., 2017): sum of |accuracy - confidence| weighted by count


def calibration(y: np.ndarray, probs: np.ndarray, bins: int = 10) -> Calibration:
    """Reliability of the top-class probability (Guo et al., "On Calibration of Modern Neural
    Networks", 2017)."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, bins) / counts
        accuracy = np.bincount(which, correct, bins) / counts
    gaps = np.where(counts > 0, np.abs(np.nan_to_num(accuracy) - np.nan_to_num(mean_conf)), 0.0)
    ece = float((gaps * counts).sum() / max(1, len(y)))
    return Calibration(edges, mean_conf, accuracy, counts, ece)
