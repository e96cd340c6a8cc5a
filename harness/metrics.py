"""Competition metrics on class probabilities, via scikit-learn."""

from __future__ import annotations

import numpy as np


def score(metric: str, y_true: np.ndarray, probs: np.ndarray) -> float:
    from sklearn import metrics

    labels = np.arange(probs.shape[1])
    if metric == "accuracy":
        return float(metrics.accuracy_score(y_true, probs.argmax(1)))
    if metric == "f1_macro":
        return float(metrics.f1_score(y_true, probs.argmax(1), average="macro", labels=labels))
    if metric == "log_loss":
        return float(metrics.log_loss(y_true, np.clip(probs, 1e-15, 1), labels=labels))
    if metric == "roc_auc":
        if probs.shape[1] == 2:
            return float(metrics.roc_auc_score(y_true, probs[:, 1]))
        return float(metrics.roc_auc_score(y_true, probs, multi_class="ovr", labels=labels))
    raise ValueError(f"unknown metric {metric!r}")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def better(a: float, b: float | None, higher_is_better: bool) -> bool:
    if b is None:
        return True
    return a > b if higher_is_better else a < b
