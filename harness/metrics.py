"""Scoring in one place: the OOF, the holdout, an ensemble and a leaderboard submission all go
through `score`. Metrics are components of the `harness_metrics` hook (built-ins in
`plugins/metrics/`), each with its direction and whether it needs probabilities."""

from __future__ import annotations

import numpy as np

from harness.specs import MetricSpec


def get_metric(name: str, plugins: object | None = None) -> MetricSpec:
    """The metric component `name`; an unknown name is a HarnessError with a suggestion."""
    from harness.plugin_manager import Plugins, load_plugins

    pm = plugins if isinstance(plugins, Plugins) else load_plugins(only=("metrics",))
    return pm.metric(name)


def score(metric: MetricSpec, y_true: np.ndarray, probs: np.ndarray) -> float:
    """`metric` of int labels `y_true` (N,) against probabilities (N, C)."""
    return metric(np.asarray(y_true), np.asarray(probs, dtype=np.float64))


def score_known(metric: MetricSpec, y_true: np.ndarray, probs: np.ndarray, rows: np.ndarray | None = None) -> float:
    """`score` over the rows with a label (`y_true` >= 0; -1 marks a row its task does not label),
    within the boolean mask `rows` if given; NaN when no row qualifies."""
    keep = np.asarray(y_true) >= 0
    if rows is not None:
        keep &= rows
    return score(metric, np.asarray(y_true)[keep], np.asarray(probs)[keep]) if keep.any() else float("nan")


def bootstrap_se(metric: MetricSpec, y_true: np.ndarray, probs: np.ndarray, rounds: int = 100, seed: int = 0) -> float:
    """The standard error of `score` from its spread over `rounds` resamples of the rows (with
    replacement, seeded): how far the score could move on another draw of as many images. A
    resample the metric cannot score (one class left, for a ranking metric: an error or NaN) is
    skipped; NaN with fewer than 2 rows or 2 scored resamples."""
    y, p = np.asarray(y_true), np.asarray(probs, dtype=np.float64)
    if len(y) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        rows = rng.integers(0, len(y), len(y))
        try:
            value = metric(y[rows], p[rows])
        except ValueError:
            continue
        if np.isfinite(value):
            values.append(value)
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Probability rows for a label submission: a label metric scores them like the labels."""
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-probability of the true class: the validation loss the trainer logs for
    every candidate, whatever `cv.metric` is."""
    p = np.clip(probs[np.arange(len(y_true)), y_true], 1e-15, 1.0)
    return float(-np.log(p).mean())
