"""A multi-task run's further tasks in an ensemble: every task that all members carry (same
classes) is combined as the ensemble combines the members' own task, with the same ensembler and
member weights, from the members' `tasks/NAME_oof.csv`, `tasks/NAME_test_probs.csv` and
`tasks/NAME_holdout.csv` (each already pooled over the member's views and folds). The ensemble
folder then holds the same `tasks/` files a run does, so it feeds `harness ensemble` again.

The weights a fitting ensembler learned come from the own task's OOF labels; the further tasks'
OOF scores are computed on the same rows, so where the tasks' labels agree (a hierarchy's levels)
such a score is as in-sample as the own task's `cv_score_in_sample`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.console import warn
from harness.ensemble.members import Pool
from harness.errors import HarnessError
from harness.hierarchy.levels import Levels
from harness.metrics import score_known
from harness.outputs.labels import task_labels
from harness.outputs.tables import labelled, prob_frame
from harness.specs import Ensembler, MetricSpec

# set -> the member file that holds its pooled probabilities (a run writes both; "" ids are none)
SET_FILES = {"test": "{task}_test_probs.csv", "holdout": "{task}_holdout.csv"}


def common_tasks(pool: Pool) -> dict[str, tuple[str, ...]]:
    """The further tasks every member carries with the same classes; a warning names the others."""
    per_member = [{n: tuple(c) for n, c in (m.manifest.extra.get("tasks") or {}).items()} for m in pool.members]
    shared = {n: c for n, c in per_member[0].items() if all(t.get(n) == c for t in per_member[1:])}
    left = sorted(set().union(*per_member) - set(shared))
    if left:
        warn(f"task(s) {', '.join(left)} are not carried by every member with the same classes: the ensemble leaves "
             "them out")
    return shared


def _read(path: Path, id_col: str, ids: Sequence[str], classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A member's task table at `path`, rows in `ids` order: the (N, C) probabilities and each
    row's class index (-1 where the task has no label, or the table has no label column)."""
    table = pd.read_csv(path, dtype={id_col: str, "label": str}, keep_default_na=False).set_index(id_col)
    missing = [i for i in ids if i not in table.index]
    if missing:
        raise HarnessError(f"{path} lacks {len(missing)} of the ensemble's rows, such as {missing[0]!r}: the members "
                           "did not predict the same images (rerun that member on the others' data)")
    rows = table.loc[list(ids)]
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index.get(v, -1) for v in rows["label"]] if "label" in rows else [-1] * len(rows), dtype=np.int64)
    return rows[list(classes)].to_numpy(dtype=np.float64), y


def write_task_ensembles(out: Path, pool: Pool, tasks: dict[str, tuple[str, ...]], ensembler: Ensembler,
                         weights: Sequence[float] | None, metric: MetricSpec, levels: Levels | None = None,
                         leaf_probs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """Write `out/tasks/` for each of `tasks` (`common_tasks`); their scores, as a run's `task_scores`.
    Each task's submission is of the set the ensemble submits (the test set, else the holdout); a
    task that is a level of the members' hierarchy submits the level of the ensemble's top leaf
    (`leaf_probs`, its own probabilities per set), as a run does."""
    id_col, scores = pool.manifest.id_column, {}
    if tasks:
        (out / "tasks").mkdir(parents=True, exist_ok=True)
    for task, classes in tasks.items():
        read = [_read(m.folder / "tasks" / f"{task}_oof.csv", id_col, pool.ids, classes) for m in pool.members]
        oof, y = ensembler([p for p, _ in read], weights), read[0][1]
        frame = labelled(prob_frame(pool.ids, oof, classes, id_col), y, classes)
        frame.insert(2, "fold", pool.fold)
        frame.to_csv(out / "tasks" / f"{task}_oof.csv", index=False)
        scores[task] = {"cv": score_known(metric, y, oof)}
        for set_name, ids in pool.set_ids.items():
            paths = [m.folder / "tasks" / SET_FILES[set_name].format(task=task) for m in pool.members]
            absent = [p for p in paths if not p.is_file()]
            if absent:
                warn(f"{absent[0]} is missing (a run from before harness wrote it): the ensemble has no {set_name} "
                     f"predictions of task {task}")
                continue
            read = [_read(p, id_col, ids, classes) for p in paths]
            probs, yh = ensembler([p for p, _ in read], weights), read[0][1]
            table = prob_frame(ids, probs, classes, id_col)
            if set_name == "holdout":
                table = labelled(table, yh, classes)
                if (yh >= 0).any():
                    scores[task]["holdout"] = score_known(metric, yh, probs)
            table.to_csv(out / "tasks" / SET_FILES[set_name].format(task=task), index=False)
            if set_name == "test" or "test" not in pool.set_ids:
                labels = task_labels(task, classes, probs, levels or {}, (leaf_probs or {}).get(set_name))
                pd.DataFrame({id_col: list(ids), "label": labels}).to_csv(out / "tasks" / f"{task}_submission.csv",
                                                                          index=False)
    return scores
