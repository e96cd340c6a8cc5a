"""`harness ensemble` from end to end, without the file writing: fit the plan on the whole OOF,
check it with nested cross-validation, and combine every fold's test and holdout predictions.

Nested over the folds where the members share two or more; where they share one (a screen, or
`cv.only = [0]` on all the data), over ROW_PARTS seeded parts of that fold's rows. Every one of
those rows is out of fold for every member, so fitting on four parts and scoring the fifth is as
honest as fitting on four folds: it only has fewer rows to fit on."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.ensemble.members import Pool
from harness.ensemble.nested import nested_predictions
from harness.ensemble.plan import Plan, Settings, combine_oof, combine_set, fit_plan, member_oof, plain_plan
from harness.ensemble.pooling import member_probs
from harness.specs import Ensembler

ROW_PARTS = 5


@dataclass(frozen=True)
class LabelledSet:
    """A set of rows with labels, as the ensemble and each of its members (its plan's views and
    scaling) predict them."""

    name: str  # "oof" or "holdout"
    ids: tuple[str, ...]
    y: np.ndarray
    members: list[np.ndarray]  # (N, C) per member
    ensemble: np.ndarray  # (N, C): for "oof", what oof.csv holds (nested where it was checked)


@dataclass(frozen=True)
class EnsembleResult:
    pool: Pool
    settings: Settings
    plan: Plan  # fitted on every OOF row: what the test and holdout predictions use
    oof: np.ndarray  # (N, C) in-sample: the plan applied to the rows it was fitted on
    nested: np.ndarray | None  # (N, C) each fold's rows from the plan fitted on the other folds
    nested_plans: dict[int, Plan]  # keyed by fold, or by row part where nested_over is "rows"
    nested_over: str | None  # "folds", "rows" (one shared fold), or None: not checked
    plain_oof: np.ndarray  # the plain mean (every view, equal weights): the baseline
    sets: dict[str, np.ndarray]  # "test"/"holdout" -> (F, M, C), one slice per fold
    plain_sets: dict[str, np.ndarray]
    fold_mean: Ensembler = field(repr=False)  # averages a set's per-fold slices

    @property
    def written_oof(self) -> np.ndarray:
        """What `oof.csv` holds: out-of-fold for the ensemble's own fitting too, where it can be."""
        return self.nested if self.nested is not None else self.oof

    def final(self, name: str, plain: bool = False) -> np.ndarray:
        """Set `name`'s (M, C) probabilities: the per-fold predictions averaged."""
        per_fold = (self.plain_sets if plain else self.sets)[name]
        return self.fold_mean(list(per_fold))

    @cached_property
    def labelled_sets(self) -> tuple[LabelledSet, ...]:
        """The OOF rows, and the holdout where it has labels, as the ensemble and each member predict
        them; computed once for the headroom (`headroom.py`), `mistakes.csv` and `correlation.csv`."""
        pool, plans = self.pool, self.plan.members
        sets = [LabelledSet("oof", pool.ids, pool.y,
                            [member_oof(m, mp, pool) for m, mp in zip(pool.members, plans, strict=True)], self.written_oof)]
        if pool.holdout_y is not None:
            members = [self.fold_mean(list(member_probs(m.sets["holdout"], mp, m.view_pool)))
                       for m, mp in zip(pool.members, plans, strict=True)]
            sets.append(LabelledSet("holdout", pool.set_ids["holdout"], pool.holdout_y, members, self.final("holdout")))
        return tuple(sets)


def row_parts(n: int, parts: int = ROW_PARTS, seed: int = 0) -> np.ndarray:
    """The part (0 to `parts` - 1) of each of `n` rows, in a seeded random order, as even as `n` allows."""
    return np.random.default_rng(seed).permutation(n) % parts


def run_ensemble(pool: Pool, settings: Settings, mean: Ensembler) -> EnsembleResult:
    """`mean` is the plain mean ensembler: the baseline, and how each set's folds are averaged."""
    plan = fit_plan(pool, np.ones(len(pool.ids), dtype=bool), settings)
    oof = combine_oof(pool, plan, settings.ensembler)
    nested: np.ndarray | None = None
    nested_plans: dict[int, Plan] = {}
    nested_over: str | None = None
    if settings.fits and len(pool.folds) >= 2:
        nested_over, groups, keys = "folds", pool.fold, list(pool.folds)
    elif settings.fits and len(pool.ids) >= 2 * ROW_PARTS:
        nested_over, groups, keys = "rows", row_parts(len(pool.ids)), list(range(ROW_PARTS))
    if nested_over is not None:
        nested, nested_plans = nested_predictions(
            groups, keys, lambda rows: fit_plan(pool, rows, settings),
            lambda p: combine_oof(pool, p, settings.ensembler))
    plain = plain_plan(pool)
    return EnsembleResult(
        pool=pool, settings=settings, plan=plan, oof=oof, nested=nested, nested_plans=nested_plans,
        nested_over=nested_over,
        plain_oof=combine_oof(pool, plain, mean),
        sets={s: combine_set(pool, plan, settings.ensembler, s) for s in pool.set_ids},
        plain_sets={s: combine_set(pool, plain, mean, s) for s in pool.set_ids},
        fold_mean=mean,
    )
