"""Nested cross-validation of the ensemble's own fitting: for every fold k, fit on the OOF rows of
the other folds, predict fold k's rows; the pooled predictions score the weights out of sample.
Weights fitted and scored on the same OOF rows flatter themselves (Cawley & Talbot 2010, "On
Over-fitting in Model Selection and Subsequent Selection Bias in Performance Evaluation");
this is the score to compare with the plain mean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

P = TypeVar("P")


def nested_predictions(fold: np.ndarray, folds: Sequence[int], fit: Callable[[np.ndarray], P],
                       predict: Callable[[P], np.ndarray]) -> tuple[np.ndarray, dict[int, P]]:
    """Out-of-fold predictions of a fitted procedure, and what was fitted for each held-out fold.
    `fit(rows)` learns from a boolean row mask; `predict(fitted)` gives (N, C) predictions for
    every row, of which only the held-out fold's are kept. Needs two folds or more."""
    if len(folds) < 2:
        raise ValueError("nested cross-validation needs at least two folds")
    out: np.ndarray | None = None
    fitted: dict[int, P] = {}
    for k in folds:
        held = fold == k
        fitted[k] = fit(~held)
        pred = predict(fitted[k])
        if out is None:
            out = np.full(pred.shape, np.nan)
        out[held] = pred[held]
    assert out is not None
    return out, fitted
