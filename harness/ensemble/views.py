"""TTA as data: score each saved view of a member on the OOF, and choose which views to keep and
their weights from the OOF logits alone, with no new inference.

`--tta all` averages every view, as the run did; `--tta VIEW,VIEW` averages the listed ones;
`--tta select` lets a fitting ensembler (hill climbing by default: it needs no gradient and
keeps only views that help) weight the views on the OOF rows it is given."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.ensemble.members import Member
from harness.ensemble.pooling import MemberPlan, member_probs
from harness.ensemble.temperature import softmax_nd
from harness.errors import HarnessError
from harness.metrics import score
from harness.specs import FittingEnsembler, MetricSpec


def view_scores(member: Member, y: np.ndarray, metric: MetricSpec, rows: np.ndarray | None = None,
                fold: np.ndarray | None = None) -> dict[str, float]:
    """The metric of each view alone, and of all views pooled as the member's run pooled them
    (each of its `fold`s apart), "all", on `rows` (default: all)."""
    keep = np.ones(len(y), dtype=bool) if rows is None else rows
    out = {v: score(metric, y[keep], softmax_nd(member.oof[v][keep])) for v in member.views}
    every = member_probs(member.oof, MemberPlan({v: 1.0 for v in member.views}), member.view_pool, fold)
    out["all"] = score(metric, y[keep], every[keep])
    return out


def listed_views(member: Member, spec: str) -> dict[str, float]:
    """Equal weights on the views named in `spec` ("identity,hflip"), zero elsewhere."""
    wanted = [v.strip() for v in spec.split(",") if v.strip()]
    missing = [v for v in wanted if v not in member.views]
    if missing:
        raise HarnessError(f"--tta: run {member.name} has no view(s) {missing}; its views are {list(member.views)}")
    return {v: (1.0 if v in wanted else 0.0) for v in member.views}


def select_views(member: Member, y: np.ndarray, rows: np.ndarray, fitter: FittingEnsembler,
                 metric: MetricSpec) -> dict[str, float]:
    """View weights fitted by `fitter` on the OOF `rows`."""
    if len(member.views) == 1:
        return {member.views[0]: 1.0}
    fit = fitter.fit([softmax_nd(member.oof[v][rows]) for v in member.views], y[rows], metric)
    return dict(zip(member.views, fit.weights, strict=True))


def view_weights(member: Member, tta: str, y: np.ndarray, rows: np.ndarray, fitter: FittingEnsembler | None,
                 metric: MetricSpec) -> dict[str, float]:
    """The weight of each of the member's views for a `--tta` choice: "all", "select" or a list."""
    if tta == "all":
        return {v: 1.0 for v in member.views}
    if tta == "select":
        if fitter is None:
            raise HarnessError("--tta select needs a fitting ensembler (--tta-method)")
        return select_views(member, y, rows, fitter, metric)
    return listed_views(member, tta)


def logits_of(member: Member, weights: dict[str, float]) -> tuple[Sequence[np.ndarray], list[float]]:
    """The member's OOF logits of the views that carry weight, with those weights."""
    kept = [v for v in member.views if weights[v] > 0]
    return [member.oof[v] for v in kept], [weights[v] for v in kept]
