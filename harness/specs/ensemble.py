"""Ensemblers: pooling probability matrices (TTA views, folds, runs), and fitting their weights."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from harness.specs.metric import MetricSpec


class Ensembler(Protocol):
    """Combines probability matrices into one. `probs`: a sequence of float (N, C) arrays on the
    host, rows summing to 1, every matrix with the same rows in the same order (TTA views of one
    fold, the folds of a run, or the members of `harness ensemble`). `weights`: one non-negative
    float per matrix (None: equal); they need not sum to 1. Returns a float64 (N, C) array whose
    rows sum to 1. An ensembler may look at the whole column (rank averaging does), so the rows it
    is given are the rows it scores."""

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray: ...


def normalized_weights(weights: Sequence[float] | np.ndarray | None, count: int) -> np.ndarray:
    """`weights` as float64 summing to 1 (None: `count` equal ones), as every ensembler reads an
    `Ensembler`'s weights; a ValueError for the wrong length, a negative weight, or none above 0."""
    w = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (count,):
        raise ValueError(f"{w.size} weight(s) for {count} probability matrices")
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {w.tolist()}")
    return w / w.sum()


POOL_FLOOR = 1e-12  # the geometric pool's floor: a zero probability would zero the whole product
PoolKind = Literal["mean", "geometric"]


@dataclass(frozen=True)
class Pooled:
    """An `Ensembler` that pools each row's probabilities alone, in a way an exported graph can
    compute too: `pool = "mean"` (their mean) or `"geometric"` (the mean of their logs, each
    probability floored at `POOL_FLOOR`, renormalized). `harness export` pools a run's folds and
    views as its ensembler does when the built ensembler is `Pooled`; for any other (rank
    averaging, fitted weights) the graph takes the mean, and says so."""

    pool: PoolKind
    combine: Callable[[Sequence[np.ndarray], Sequence[float] | None], np.ndarray]

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return self.combine(probs, weights)


@dataclass(frozen=True)
class EnsembleFit:
    """What a fitting ensembler learned: one weight per input matrix (non-negative, summing to 1)
    and, in words, the objective it optimised: the metric's name, or e.g. "log_loss (surrogate:
    accuracy has no gradient)"."""

    weights: tuple[float, ...]  # one per input matrix, >= 0, summing to 1
    objective: str  # what was optimised, in words


@runtime_checkable
class FittingEnsembler(Ensembler, Protocol):
    """An ensembler that learns its weights from labelled rows (hill climbing, an optimiser).
    `fit(probs, y, metric)` gets the matrices of the rows to fit on, their int labels (N,) and the
    `MetricSpec` to optimise; `harness ensemble` then calls `ensembler(probs, fit.weights)` on any
    rows (held-out folds, test, holdout). Without `fit`, an ensembler uses equal or user weights."""

    def fit(self, probs: Sequence[np.ndarray], y: np.ndarray, metric: MetricSpec) -> EnsembleFit: ...
