"""One member's probabilities from its per-view logits: its TTA views weighted, temperature and
power scaled, and pooled as its run pooled them (the run's own ensembler: mean, geometric, rank),
each fold apart on OOF rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.ensemble.temperature import blend_views, power_scale, softmax_nd
from harness.specs import Ensembler


@dataclass(frozen=True)
class MemberPlan:
    view_weights: dict[str, float]
    temperature: float = 1.0
    power: float = 1.0


def member_probs(views: dict[str, np.ndarray], mp: MemberPlan, pool: Ensembler | None = None,
                 fold: np.ndarray | None = None) -> np.ndarray:
    """One member's probabilities from its per-view logits: (N, C) rows, or (F, M, C) with one
    slice per fold. `pool` pools the views as the member's run did (None: the arithmetic mean);
    on OOF rows it pools each `fold` apart, as the run did (it matters for rank pooling)."""
    kept = [v for v, w in mp.view_weights.items() if w > 0]
    weights = [mp.view_weights[v] for v in kept]

    def pooled(arrays: list[np.ndarray]) -> np.ndarray:
        if pool is None or len(arrays) == 1:
            return blend_views(arrays, weights, mp.temperature)
        return pool([softmax_nd(z, mp.temperature) for z in arrays], weights)

    first = views[kept[0]]
    if pool is None:
        blended = pooled([views[v] for v in kept])
    elif first.ndim == 3:
        blended = np.stack([pooled([views[v][i] for v in kept]) for i in range(first.shape[0])])
    else:
        blended = np.zeros(first.shape)
        for f in np.unique(fold) if fold is not None else [None]:
            rows = slice(None) if f is None else fold == f
            blended[rows] = pooled([views[v][rows] for v in kept])
    return power_scale(blended, mp.power)


