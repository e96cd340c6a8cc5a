"""A finished run's pooled probabilities per set, by id, as `harness hierarchy` combines them:
each fold's TTA views' softmax averaged, then the folds' (the mean ensembler's pooling)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.ensemble.members import load_pool
from harness.hierarchy.combine import RunProbs
from harness.predict.pooling import pool_views


def read_run_probs(run_dir: Path) -> RunProbs:
    pool = load_pool([run_dir])
    member, classes = pool.members[0], pool.manifest.classes
    probs = {"oof": pd.DataFrame(pool_views(None, member.oof), index=list(pool.ids), columns=list(classes))}
    labels = {"oof": pd.Series([classes[i] for i in pool.y], index=list(pool.ids))}
    for s, ids in pool.set_ids.items():
        views = list(member.sets[s].values())  # each (F, M, C)
        per_fold = [pool_views(None, [v[f] for v in views]) for f in range(len(pool.folds))]
        probs[s] = pd.DataFrame(np.mean(per_fold, axis=0), index=list(ids), columns=list(classes))
    if pool.holdout_y is not None:
        labels["holdout"] = pd.Series([classes[i] for i in pool.holdout_y], index=list(pool.set_ids["holdout"]))
    return RunProbs(classes, probs, labels)
