"""Weighted mean of probabilities (or of log-probabilities: a geometric mean, `geometric.py`), the
ensembler that combines folds, TTA views and runs by default. With `harness ensemble --weights
1,2` it is the weighted mean of user weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, Pooled, normalized_weights
from harness_plugins.ensemble.geometric import geometric_mean


@dataclass(frozen=True)
class MeanOptions:
    kind: Literal["arithmetic", "geometric"] = "arithmetic"  # mean of probabilities, or of log-probabilities


def mean_probs(
    probs: Sequence[np.ndarray], weights: Sequence[float] | None = None, kind: str = "arithmetic"
) -> np.ndarray:
    if not probs:
        raise ValueError("nothing to ensemble")
    if kind == "geometric":
        return geometric_mean(probs, weights)
    w = normalized_weights(weights, len(probs))
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs])
    return np.tensordot(w, stack, axes=1)


def build(opts: MeanOptions, ctx: BuildContext | None) -> Pooled:
    def ensemble(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return mean_probs(probs, weights, opts.kind)

    return Pooled("geometric" if opts.kind == "geometric" else "mean", ensemble)


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("mean", build, MeanOptions, doc="weighted arithmetic or geometric mean")]
