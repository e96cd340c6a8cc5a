"""Nested cross-validation of the ensemble's own fitting: for every fold k, fit on the OOF rows of
the other folds, predict fold k's rows; the pooled predictions score the weights out of sample.
Weights fitted and scored on the same OOF rows flatter themselves (Cawley & Talbot 2010, "On
Over-fitting in Model Selection and Subsequent Selection Bias in Performance Evaluation");
this is the score to compare with the plain mean."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

P = TypeVar("P")


def nested_predictions(fold: np.ndarray, folds: Sequence[int], fit: Callable[[np.ndarray], P],
                       predict: Callable[[P], np.ndarray]) -> tuple[np.ndarray, dict[int, P]]:
    """Out-of-fold predictions of a fitted procedure, and what was fitted for each held-out fold.
    `fit(rows)` learns from a boolean row mask; `predict(fitted)` gives (N, C) predictions for
    every row, of which only the held-out fold's are kept. Needs two folds or more.

    The folds' fits run in threads, one per core: numpy's array work, most of a fit, releases the
    GIL (5 CIFAR-10 members at 50,000 rows, 2 cores: 4.3 s -> 2.6 s). The fits are independent,
    so the result is the same as fitting them one after the other."""
    if len(folds) < 2:
        raise ValueError("nested cross-validation needs at least two folds")
    folds = list(folds)
    with ThreadPoolExecutor(max_workers=max(1, min(len(folds), os.cpu_count() or 1))) as pool:
        fits = list(pool.map(lambda k: fit(fold != k), folds))
    out: np.ndarray | None = None
    fitted: dict[int, P] = {}
    for k, f in zip(folds, fits, strict=True):
        held = fold == k
        fitted[k] = f
        pred = predict(f)
        if out is None:
            out = np.full(pred.shape, np.nan)
        out[held] = pred[held]
    assert out is not None
    return out, fitted
