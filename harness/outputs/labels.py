"""Predicted labels, by one rule wherever a label leaves the harness: a run's own label is its top
class; a level of its hierarchy is the node above that top leaf (`harness.hierarchy.levels`);
a further task's is its own top class, unless the task is such a level; a gate's rejected image
gets the unknown label, whatever the probabilities say."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.hierarchy.levels import Levels, level_labels, names_at, top_leaf

Tasks = dict[str, tuple[tuple[str, ...], np.ndarray]]  # further task -> (its classes, probs with a row per image)


def labels_of(probs: np.ndarray, classes: Sequence[str], accepted: np.ndarray | None = None,
              unknown_label: str = "") -> list[str]:
    """Each row's most probable class; `unknown_label` where `accepted` is False (a gate turned
    the image away, and its probabilities may be NaN: never predicted)."""
    return names_at(classes, top_leaf(probs), accepted, unknown_label)


def task_labels(task: str, classes: Sequence[str], probs: np.ndarray, levels: Levels, leaf_probs: np.ndarray | None,
                accepted: np.ndarray | None = None, unknown_label: str = "") -> list[str]:
    """A further task's label of each row: its level of the top leaf when `task` is a level of the
    run's hierarchy (and `leaf_probs`, the run's own probabilities, are given), else its top class."""
    if task not in levels or leaf_probs is None:
        return labels_of(probs, classes, accepted, unknown_label)
    nodes = levels[task][0]
    if tuple(nodes) != tuple(classes):
        raise HarnessError(f"task {task!r} has classes {list(classes)[:6]}, and the run's hierarchy puts "
                           f"{list(nodes)[:6]} at that level: the run's files disagree (rerun it)")
    return level_labels({task: levels[task]}, leaf_probs, accepted, unknown_label)[task]


def add_label_columns(df: pd.DataFrame, leaf_probs: np.ndarray, tasks: Tasks, levels: Levels,
                      accepted: np.ndarray | None = None, unknown_label: str = "") -> None:
    """After a prediction table's own label and probabilities: each level's label (column
    level_K), then each further task's label (column TASK; a level task's is its level's) and
    probabilities (TASK:CLASS)."""
    for name, labels in level_labels(levels, leaf_probs, accepted, unknown_label).items():
        df[name] = labels
    for task, (classes, probs) in tasks.items():
        if task not in levels:
            df[task] = labels_of(probs, classes, accepted, unknown_label)
        for k, c in enumerate(classes):
            df[f"{task}:{c}"] = probs[:, k]
