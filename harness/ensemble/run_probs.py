"""A finished run's pooled probabilities per set, by id, as `harness hierarchy` combines them:
each fold's TTA views' softmax pooled, then the folds', by the run's own `[ensemble]` (as the
run pooled its submission); an ensemble folder's single view, averaged over its folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.ensemble.members import load_pool
from harness.hierarchy.combine import RunProbs
from harness.predict.pooling import pool_views
from harness.specs import Ensembler


def run_pooler(run_dir: Path) -> Ensembler | None:
    """The run's `[ensemble]` (None for an ensemble folder, which has no recipe: the mean)."""
    from harness.config.recipe import run_recipe_section, select_component

    section = run_recipe_section(run_dir, "ensemble")
    if not section:
        return None
    from harness.plugin_manager import load_plugins

    options = dict(section)  # recipe.toml's [ensemble]: its name and options side by side
    name = str(options.pop("name", "mean"))
    plugins = load_plugins(only=("ensemblers",))
    chosen = select_component(plugins, "ensemblers", name, options, "ensemble", "ensemble.name")  # as a recipe selects it
    return plugins.ensembler(chosen.name, chosen.options)


def read_run_probs(run_dir: Path) -> RunProbs:
    pool = load_pool([run_dir])
    member, classes = pool.members[0], pool.manifest.classes
    pooler = run_pooler(run_dir)
    probs = {"oof": pd.DataFrame(pool_views(pooler, member.oof), index=list(pool.ids), columns=list(classes))}
    labels = {"oof": pd.Series([classes[i] for i in pool.y], index=list(pool.ids))}
    for s, ids in pool.set_ids.items():
        views = list(member.sets[s].values())  # each (F, M, C)
        per_fold = [pool_views(pooler, [v[f] for v in views]) for f in range(len(pool.folds))]
        pooled = pooler(per_fold) if pooler else np.mean(per_fold, axis=0)
        probs[s] = pd.DataFrame(pooled, index=list(ids), columns=list(classes))
    if pool.holdout_y is not None:
        labels["holdout"] = pd.Series([classes[i] for i in pool.holdout_y], index=list(pool.set_ids["holdout"]))
    return RunProbs(classes, probs, labels)
