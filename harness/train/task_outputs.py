"""A multi-task run's further tasks on disk, beside its own: per task, `tasks/NAME_oof.csv`
(id, label, fold, a probability per class), `tasks/NAME_holdout.csv`, `tasks/NAME_test_probs.csv`
and `tasks/NAME_submission.csv` (id, label), pooled over views and folds as the run pools its own;
and each task's scores (the run's metric on its labelled images), for metrics.json. A task that
is a level of the run's hierarchy ("level_K") submits the level of the run's top leaf
(`harness.hierarchy.levels`), so that its labels and the run's agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.split import Competition
from harness.hierarchy.levels import Levels
from harness.metrics import score_known
from harness.outputs.fold_results import FoldResult
from harness.outputs.labels import task_labels
from harness.outputs.tables import labelled, prob_frame
from harness.predict.pooling import pool_folds, pool_views
from harness.specs import Ensembler, MetricSpec


def write_tasks(out_dir: Path, comp: Competition, id_col: str, ensemble: Ensembler, metric: MetricSpec,
                folds: np.ndarray, results: Sequence[FoldResult], levels: Levels | None = None,
                leaf_probs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """`leaf_probs`: the run's own pooled probabilities per set, which a level task's labels follow."""
    folder = out_dir / "tasks"
    folder.mkdir(exist_ok=True)
    scores: dict[str, dict[str, float]] = {}
    for task in comp.tasks:
        classes, n = task.classes, len(comp.train)
        oof = np.full((n, len(classes)), np.nan)
        for r in results:
            oof[folds == r.fold] = pool_views(ensemble, r.tasks[task.name]["oof"])
        done = ~np.isnan(oof).any(axis=1)
        y = task.of(comp.train.ids)
        frame = labelled(prob_frame(comp.train.ids, oof, classes, id_col), y, classes)
        frame.insert(2, "fold", folds)
        frame[done].to_csv(folder / f"{task.name}_oof.csv", index=False)
        scores[task.name] = {"cv": score_known(metric, y, oof, rows=done)}
        for set_name in ("test", "holdout"):
            split = getattr(comp, set_name)
            per_fold = [pool_views(ensemble, r.tasks[task.name][set_name]) for r in results
                        if set_name in r.tasks.get(task.name, {})]
            if split is None or not per_fold:
                continue
            probs = pool_folds(ensemble, per_fold)
            if set_name == "test" or comp.test is None:  # the set the run submits
                labels = task_labels(task.name, classes, probs, levels or {}, (leaf_probs or {}).get(set_name))
                pd.DataFrame({id_col: list(split.ids), "label": labels}).to_csv(folder / f"{task.name}_submission.csv",
                                                                                 index=False)
            if set_name == "test":
                prob_frame(split.ids, probs, classes, id_col).to_csv(folder / f"{task.name}_test_probs.csv", index=False)
                continue
            yh = task.of(split.ids)
            labelled(prob_frame(split.ids, probs, classes, id_col), yh, classes).to_csv(
                folder / f"{task.name}_holdout.csv", index=False)
            if (yh >= 0).any():
                scores[task.name]["holdout"] = score_known(metric, yh, probs)
    return scores
