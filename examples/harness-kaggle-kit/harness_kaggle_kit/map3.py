"""`map3`, a harness metric.

Mean average precision at 3 (MAP@3), the metric of Kaggle competitions that take three ranked
guesses per sample: a sample scores 1/k when its label is the k-th most probable class (k <= 3),
else 0; the score is the mean over samples (higher is better). It ranks the classes by probability,
so it needs probabilities: a competition scored with it takes one probability column per class.

    [cv]
    metric = "map3"
"""

from __future__ import annotations

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import MetricSpec


def map_at_k(y: np.ndarray, probs: np.ndarray, k: int = 3) -> float:
    """`y`: int labels (N,); `probs`: float (N, C), rows summing to 1. Ties rank by class index."""
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    hits = ranked == np.asarray(y)[:, None]
    return float((hits / np.arange(1, ranked.shape[1] + 1)).sum(axis=1).mean())


def map3(y: np.ndarray, probs: np.ndarray) -> float:
    return map_at_k(y, probs, 3)


@hookimpl
def harness_metrics() -> list[MetricSpec]:
    return [MetricSpec("map3", map3, higher_is_better=True, needs_probs=True,
                       doc="mean average precision at 3: 1/rank of the label among the top three")]
