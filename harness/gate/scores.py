"""How in-domain each image looks, higher for more: the main run's maximum softmax probability
(Hendrycks & Gimpel 2017, "A baseline for detecting misclassified and out-of-distribution
examples"), its negative energy, the log-sum-exp of its logits (Liu et al. 2020, "Energy-based
out-of-distribution detection"), or a gate run's probability of "known" (outlier exposure:
Hendrycks et al. 2019). Each takes one fold model's logits, its TTA views stacked (V, N, C), and
pools the views by their mean. `fold_mean` averages a score over folds: the threshold is chosen
on OOF images, each seen by one fold's model, and a score of K folds' pooled logits would sit
lower than any one model's (averaging flattens), so the gate would turn away more in-domain
images than it was set to."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.data.outliers import GATE_CLASSES, KNOWN
from harness.errors import HarnessError, suggest
from harness.predict.pooling import pool_views


def max_softmax(stack: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    return pool_views(None, list(stack)).max(axis=1)


def energy(stack: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """-E(x) = logsumexp of the mean logits (temperature 1)."""
    from scipy.special import logsumexp

    return logsumexp(np.asarray(stack, dtype=np.float64).mean(axis=0), axis=1)


def known_probability(stack: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """A gate run's probability that the image is one of the competition's ("known")."""
    if tuple(classes) != GATE_CLASSES:
        raise HarnessError(f"a gate run has the classes {list(GATE_CLASSES)} (a run with data.outliers set); "
                           f"this one has {list(classes)}")
    return pool_views(None, list(stack))[:, GATE_CLASSES.index(KNOWN)]


Score = Callable[[np.ndarray, Sequence[str]], np.ndarray]


def fold_mean(score: Score, logits: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The mean over folds of each fold's score: `logits` (F, V, N, C)."""
    return np.mean([score(fold, classes) for fold in logits], axis=0)


# Scores of the main run's own logits, by the name `harness gate --by` takes.
MAIN_SCORES: dict[str, Score] = {"max_softmax": max_softmax, "energy": energy}


def main_score(name: str) -> Score:
    if name not in MAIN_SCORES:
        raise HarnessError(f"--by {name!r} is neither a score ({', '.join(MAIN_SCORES)}) nor a gate run folder"
                           f"{suggest(name, tuple(MAIN_SCORES))}")
    return MAIN_SCORES[name]
