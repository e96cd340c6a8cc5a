"""Rank averaging: replace each member's probabilities by their ranks within each class column,
then average the ranks. The Kaggle practice for ranking metrics (ROC AUC), where members'
probabilities live on different scales and only the order of the samples counts.

Ranks are scaled to (0, 1) as rank / (N + 1), ties sharing their average rank. Rows are then
divided by their sum so the output is a probability table: for two classes the rows already sum
to 1 (the ranks of p and 1 - p are complementary), so the binary order is exactly the averaged
ranks'. With more classes the normalized rows trade some of a column's order for a valid table;
`rank_average` gives the unnormalized ranks. Ranks are taken over the rows given, so they are
only comparable within one call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, NoOptions, normalized_weights


def column_ranks(probs: np.ndarray) -> np.ndarray:
    """Each column's ranks (1 = lowest, ties averaged) divided by N + 1: values in (0, 1)."""
    from scipy.stats import rankdata

    p = np.asarray(probs, dtype=np.float64)
    return rankdata(p, method="average", axis=0) / (p.shape[0] + 1)


def rank_average(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The weighted mean of the members' column ranks, (N, C), not normalized."""
    if not probs:
        raise ValueError("nothing to ensemble")
    w = normalized_weights(weights, len(probs))
    return np.tensordot(w, np.stack([column_ranks(p) for p in probs]), axes=1)


def rank_probs(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """`rank_average` with each row divided by its sum."""
    ranks = rank_average(probs, weights)
    return ranks / ranks.sum(axis=1, keepdims=True)


def build(opts: NoOptions, ctx: BuildContext | None):
    return rank_probs


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("rank", build, NoOptions, doc="average of per-class ranks (for ranking metrics such as ROC AUC)")]
