"""Weighted geometric mean of probabilities: the arithmetic mean of log-probabilities, renormalized
(the "logarithmic opinion pool", Genest & Zidek 1986, "Combining Probability Distributions"). A
member that is confident and wrong pulls the product down harder than it pulls a mean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import POOL_FLOOR, BuildContext, Component, NoOptions, Pooled, normalized_weights


def geometric_mean(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """exp(sum_m w_m log p_m), each row renormalized to sum to 1; weights are normalized first."""
    if not probs:
        raise ValueError("nothing to ensemble")
    w = normalized_weights(weights, len(probs))
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs])
    logp = np.tensordot(w, np.log(np.clip(stack, POOL_FLOOR, 1.0)), axes=1)
    out = np.exp(logp - logp.max(axis=-1, keepdims=True))
    return out / out.sum(axis=-1, keepdims=True)


def build(opts: NoOptions, ctx: BuildContext | None) -> Pooled:
    return Pooled("geometric", geometric_mean)


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("geometric", build, NoOptions, doc="weighted geometric mean (mean of log-probabilities)")]
