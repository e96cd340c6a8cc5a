"""The competition metrics Kaggle image contests use, from scikit-learn (`sklearn.metrics`), each
declaring its direction and whether it needs probabilities or only the predicted labels."""

from __future__ import annotations

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import MetricSpec


def _labels(probs: np.ndarray) -> np.ndarray:
    return np.arange(probs.shape[1])


def accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """The share of rows whose top class is the label: numpy's, not sklearn's `accuracy_score`,
    whose argument checks cost 9 ms a call at 50,000 rows, and hill climbing scores about 1,500
    candidate blends (13.7 s of a 24 s `harness ensemble --method hill_climb` of 5 CIFAR-10 runs)."""
    return float(np.mean(probs.argmax(1) == np.asarray(y)))


def balanced_accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean recall over the classes present in `y` (scikit-learn's definition)."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, probs.argmax(1)))


def f1_macro(y: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(1), average="macro", labels=_labels(probs), zero_division=0))


def log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    """Rows are clipped to [1e-15, 1] and renormalized, as Kaggle scores it."""
    from sklearn.metrics import log_loss as sk_log_loss

    p = np.clip(probs, 1e-15, 1.0)
    return float(sk_log_loss(y, p / p.sum(axis=1, keepdims=True), labels=_labels(probs)))


def roc_auc(y: np.ndarray, probs: np.ndarray) -> float:
    """Binary: the second class's probability; more classes: macro one-vs-rest."""
    from sklearn.metrics import roc_auc_score

    if probs.shape[1] == 2:
        return float(roc_auc_score(y, probs[:, 1]))
    return float(roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=_labels(probs)))


def quadratic_kappa(y: np.ndarray, probs: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights: classes are ordered grades (diabetic retinopathy)."""
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(y, probs.argmax(1), labels=_labels(probs), weights="quadratic"))


@hookimpl
def harness_metrics() -> list[MetricSpec]:
    return [
        MetricSpec("accuracy", accuracy, higher_is_better=True, needs_probs=False, doc="share of correct labels"),
        MetricSpec("balanced_accuracy", balanced_accuracy, higher_is_better=True, needs_probs=False,
                   doc="mean per-class recall"),
        MetricSpec("f1_macro", f1_macro, higher_is_better=True, needs_probs=False, doc="unweighted mean of per-class F1"),
        MetricSpec("log_loss", log_loss, higher_is_better=False, needs_probs=True, doc="multi-class cross-entropy"),
        MetricSpec("roc_auc", roc_auc, higher_is_better=True, needs_probs=True,
                   doc="ROC AUC; macro one-vs-rest beyond two classes"),
        MetricSpec("quadratic_kappa", quadratic_kappa, higher_is_better=True, needs_probs=False,
                   doc="quadratic weighted kappa, for ordered classes"),
    ]
