"""`harness ensemble` from end to end, without the file writing: fit the plan on the whole OOF,
check it with nested cross-validation, and combine every fold's test and holdout predictions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.ensemble.members import Pool
from harness.ensemble.nested import nested_predictions
from harness.ensemble.plan import Plan, Settings, combine_oof, combine_set, fit_plan, plain_plan
from harness.specs import Ensembler


@dataclass(frozen=True)
class EnsembleResult:
    pool: Pool
    settings: Settings
    plan: Plan  # fitted on every OOF row: what the test and holdout predictions use
    oof: np.ndarray  # (N, C) in-sample: the plan applied to the rows it was fitted on
    nested: np.ndarray | None  # (N, C) each fold's rows from the plan fitted on the other folds
    nested_plans: dict[int, Plan]
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


def run_ensemble(pool: Pool, settings: Settings, mean: Ensembler) -> EnsembleResult:
    """`mean` is the plain mean ensembler: the baseline, and how each set's folds are averaged."""
    plan = fit_plan(pool, np.ones(len(pool.ids), dtype=bool), settings)
    oof = combine_oof(pool, plan, settings.ensembler)
    nested: np.ndarray | None = None
    nested_plans: dict[int, Plan] = {}
    if settings.fits and len(pool.folds) >= 2:
        nested, nested_plans = nested_predictions(
            pool.fold, pool.folds, lambda rows: fit_plan(pool, rows, settings),
            lambda p: combine_oof(pool, p, settings.ensembler))
    plain = plain_plan(pool)
    return EnsembleResult(
        pool=pool, settings=settings, plan=plan, oof=oof, nested=nested, nested_plans=nested_plans,
        plain_oof=combine_oof(pool, plain, mean),
        sets={s: combine_set(pool, plan, settings.ensembler, s) for s in pool.set_ids},
        plain_sets={s: combine_set(pool, plain, mean, s) for s in pool.set_ids},
        fold_mean=mean,
    )
