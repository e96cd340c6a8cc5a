"""Pooling a run's predictions, in one place: each TTA view's logits to probabilities (softmax, in
the dtype they were kept in), a fold's views pooled by the run's ensembler (the recipe's
[ensemble]: mean, geometric or rank), then the folds pooled by the same ensembler.

The run's OOF, test and holdout predictions, `harness predict`, a distillation teacher's stored
soft labels and the benchmarks pool through the numpy functions; an exported graph and a live
distillation teacher pool in torch through `log_pool`, the same two pools an ensembler can
declare (`harness.specs.Pooled`). So a run's models predict what the run wrote, wherever they
run. (`harness ensemble` adds temperatures and weights on top: harness/ensemble/pooling.py.)"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from harness.metrics import softmax
from harness.specs import POOL_FLOOR, Ensembler, Pooled, PoolKind


def _mean(probs: Sequence[np.ndarray]) -> np.ndarray:
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probs]), axis=0)


def pool_views(ensemble: Ensembler | None, logits: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:
    """One fold's probabilities: its TTA views' logits (view -> (N, C), or a list), each softmaxed,
    pooled by `ensemble` (None: their arithmetic mean)."""
    views = list(logits.values()) if isinstance(logits, Mapping) else list(logits)
    probs = [softmax(v) for v in views]
    return (ensemble or _mean)(probs)


def pool_folds(ensemble: Ensembler, per_fold: Sequence[np.ndarray]) -> np.ndarray:
    """The run's probabilities: its folds' pooled probabilities, pooled."""
    return ensemble(list(per_fold))


def pool_run(ensemble: Ensembler, folds: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """Views, then folds: the probabilities a run's `folds` (each view -> logits) give together."""
    return pool_folds(ensemble, [pool_views(ensemble, logits) for logits in folds])


def pool_kind(ensemble: Ensembler | None) -> PoolKind | None:
    """The pool torch computes for `ensemble` (None: the arithmetic mean): the one it declares
    (`Pooled`: mean or geometric). None for any other (rank, fitted weights): that is not a
    function of one image's probabilities alone, and the caller says what it takes instead."""
    if ensemble is None:
        return "mean"
    return ensemble.pool if isinstance(ensemble, Pooled) else None


def log_pool(logits: Sequence[torch.Tensor], kind: PoolKind = "mean") -> torch.Tensor:
    """Log-probabilities (N, C) of the pool of several predictions' `logits` (each (N, C)), in
    float32: the mean of their probabilities, or their geometric mean renormalized (each
    probability floored at POOL_FLOOR, as the geometric ensembler computes it)."""
    logp = torch.stack([z.float() for z in logits]).log_softmax(dim=-1)
    if kind == "mean":
        return torch.logsumexp(logp, dim=0) - math.log(len(logits))
    return logp.clamp_min(math.log(POOL_FLOOR)).mean(dim=0).log_softmax(dim=-1)
