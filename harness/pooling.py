"""Pooling a run's predictions, in one place: each TTA view's logits to probabilities (softmax, in
the dtype they were kept in), a fold's views pooled by the run's ensembler (the recipe's
[ensemble]: mean, geometric or rank), then the folds pooled by the same ensembler. The run's
OOF, test and holdout predictions, `harness predict` and the benchmarks all pool through here,
so that a run's models predict what the run wrote. (`harness ensemble` adds temperatures and
weights on top: harness/ensemble/pooling.py; an exported graph computes the same pool in torch:
harness/export/model.py.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from harness.metrics import softmax
from harness.specs import Ensembler


def pool_views(ensemble: Ensembler, logits: Mapping[str, np.ndarray]) -> np.ndarray:
    """One fold's probabilities: its TTA views' logits (view -> (N, C)), each softmaxed, pooled."""
    return ensemble([softmax(v) for v in logits.values()])


def pool_folds(ensemble: Ensembler, per_fold: Sequence[np.ndarray]) -> np.ndarray:
    """The run's probabilities: its folds' pooled probabilities, pooled."""
    return ensemble(list(per_fold))


def pool_run(ensemble: Ensembler, folds: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """Views, then folds: the probabilities a run's `folds` (each view -> logits) give together."""
    return pool_folds(ensemble, [pool_views(ensemble, logits) for logits in folds])
