"""An ensemble's plan: per member, the TTA view weights, temperature and power; across members,
the weights. `fit_plan` learns it from chosen OOF rows; `combine_oof` and `combine_set` apply it to
any rows (OOF, each fold's test or holdout predictions). Fitting on some folds and applying to
the others is what `harness.ensemble.nested` does with it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.ensemble.members import Member, Pool
from harness.ensemble.pooling import MemberPlan, member_probs
from harness.ensemble.temperature import fit_temperature
from harness.ensemble.views import logits_of, view_weights
from harness.specs import Ensembler, FittingEnsembler, MetricSpec


@dataclass(frozen=True)
class Settings:
    """What `harness ensemble` was asked to do."""

    ensembler: Ensembler
    metric: MetricSpec
    method: str = ""  # the ensembler's component name, and its options, for the record
    options: Mapping[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] | None = None  # the user's member weights (--weights)
    tta: str = "all"  # "all", "select" or "VIEW,VIEW"
    tta_fitter: FittingEnsembler | None = None  # weights the views for tta = "select"
    temperature: float | None = 1.0  # None: fit one per member on the OOF
    power: float = 1.0

    @property
    def fits(self) -> bool:
        """Whether anything is learned from the OOF labels (and so can overfit them)."""
        return isinstance(self.ensembler, FittingEnsembler) or self.tta == "select" or self.temperature is None


@dataclass(frozen=True)
class Plan:
    members: tuple[MemberPlan, ...]
    weights: tuple[float, ...] | None  # None: the ensembler's equal weights
    objective: str = ""  # what the member weights optimised; "" when not fitted


def plain_plan(pool: Pool) -> Plan:
    """Every view averaged, no scaling, equal weights: what the runs did, and the baseline."""
    return Plan(tuple(MemberPlan({v: 1.0 for v in m.views}) for m in pool.members), None)


def member_oof(member: Member, mp: MemberPlan, pool: Pool) -> np.ndarray:
    """The member's (N, C) OOF probabilities under `mp`, its views pooled as its run did."""
    return member_probs(member.oof, mp, member.view_pool, pool.fold)


def fit_member(member: Member, pool: Pool, rows: np.ndarray, s: Settings) -> MemberPlan:
    vw = view_weights(member, s.tta, pool.y, rows, s.tta_fitter, s.metric)
    temperature = s.temperature
    if temperature is None:
        logits, weights = logits_of(member, vw)
        temperature = fit_temperature([z[rows] for z in logits], weights, pool.y[rows])
    return MemberPlan(vw, temperature, s.power)


def fit_plan(pool: Pool, rows: np.ndarray, s: Settings) -> Plan:
    """The plan learned from the OOF `rows` (a boolean mask) alone."""
    members = tuple(fit_member(m, pool, rows, s) for m in pool.members)
    if not isinstance(s.ensembler, FittingEnsembler):
        return Plan(members, s.weights)
    probs = [member_oof(m, mp, pool)[rows] for m, mp in zip(pool.members, members, strict=True)]
    fit = s.ensembler.fit(probs, pool.y[rows], s.metric)
    return Plan(members, fit.weights, fit.objective)


def combine_oof(pool: Pool, plan: Plan, ensembler: Ensembler) -> np.ndarray:
    """The ensemble's (N, C) OOF probabilities under `plan`, over every OOF row."""
    return ensembler([member_oof(m, mp, pool) for m, mp in zip(pool.members, plan.members, strict=True)], plan.weights)


def combine_set(pool: Pool, plan: Plan, ensembler: Ensembler, name: str) -> np.ndarray:
    """The ensemble's (F, M, C) predictions of set `name`, one slice per pool fold: each fold's
    member predictions are combined, as a run's fold predicts the test set."""
    per_fold = []
    for slot in range(len(pool.folds)):
        probs = [member_probs({v: x[slot] for v, x in m.sets[name].items()}, mp, m.view_pool)
                 for m, mp in zip(pool.members, plan.members, strict=True)]
        per_fold.append(ensembler(probs, plan.weights))
    return np.stack(per_fold)
