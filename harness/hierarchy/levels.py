"""A leaf run's labels at every level of its hierarchy, by one rule: an image's node at level K
is the level-K ancestor of its top leaf, so that a predicted leaf implies its parents wherever
a label leaves the harness (the run's task submissions, `harness predict`, a gated prediction,
`harness ensemble`, an exported model's metadata).

A multi-task run that also trains a head per level (`data.tasks = ["level_1"]`) follows the same
rule for its labels: each level head shapes the shared network and keeps its own probabilities
and score (`task_scores`), but its argmax alone could name a trunk node that the top leaf does
not sit under, so its label is read off the leaf.

A run records the rule's table in run.json (`extra["levels"]`: per level its nodes and each
leaf's node index), so that predicting, ensembling and exporting need no hierarchy file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from harness.hierarchy.tree import Hierarchy

Levels = dict[str, tuple[tuple[str, ...], np.ndarray]]  # "level_K" -> (its nodes, each leaf's node index)


def tree_levels(tree: Hierarchy) -> Levels:
    """Every level above the leaves (1 .. depth-1): its nodes, and each leaf's node index there."""
    out: Levels = {}
    for level in range(1, tree.depth):
        nodes, of_leaf = tree.level_index(level)
        out[f"level_{level}"] = (nodes, np.asarray(of_leaf, dtype=np.int64))
    return out


def run_levels(extra: Mapping[str, object]) -> Levels:
    """The levels a run's (or an ensemble's) manifest records; {} for a run without a hierarchy."""
    table = extra.get("levels") or {}
    assert isinstance(table, dict)
    return {name: (tuple(t["nodes"]), np.asarray(t["of_leaf"], dtype=np.int64)) for name, t in table.items()}


def top_leaf(probs: np.ndarray) -> np.ndarray:
    """Each row's top leaf; a row of NaN (an image a gate turned away) counts as leaf 0, whose
    label the caller replaces."""
    return np.nan_to_num(np.asarray(probs, dtype=np.float64), nan=-1.0).argmax(axis=1)


def names_at(names: Sequence[str], index: np.ndarray, accepted: np.ndarray | None = None,
             unknown_label: str = "") -> list[str]:
    """`names[i]` for each row's index `i`; `unknown_label` where `accepted` is False (a gate
    turned the image away)."""
    ok = np.ones(len(index), dtype=bool) if accepted is None else np.asarray(accepted, dtype=bool)
    return [names[i] if keep else unknown_label for i, keep in zip(index, ok, strict=True)]


def level_labels(levels: Levels, leaf_probs: np.ndarray, accepted: np.ndarray | None = None,
                 unknown_label: str = "") -> dict[str, list[str]]:
    """Each level's label of each row: its top leaf's node there (`unknown_label` where `accepted` is False)."""
    top = top_leaf(leaf_probs)
    return {name: names_at(nodes, of_leaf[top], accepted, unknown_label) for name, (nodes, of_leaf) in levels.items()}


def level_scores(levels: Levels, y: np.ndarray, leaf_probs: np.ndarray) -> dict[str, float]:
    """Accuracy at every level and at the leaves of the rows labelled `y` (leaf indices; rows
    below 0 are left out): a node counts as right when it is the true leaf's node there."""
    y = np.asarray(y)
    rows = y >= 0
    top, truth = top_leaf(leaf_probs)[rows], y[rows]
    out = {name: float((of_leaf[top] == of_leaf[truth]).mean()) for name, (_, of_leaf) in levels.items()}
    out["leaf"] = float((top == truth).mean())
    return out


def same_levels(tables: Sequence[Levels]) -> Levels:
    """The levels every one of `tables` records alike (an ensemble's members); {} when any differs."""
    first = tables[0] if tables else {}
    for t in tables[1:]:
        if t.keys() != first.keys() or any(t[k][0] != first[k][0] or not np.array_equal(t[k][1], first[k][1])
                                           for k in first):
            return {}
    return first


def levels_extra(levels: Levels) -> dict[str, dict[str, list[str] | list[int]]]:
    """`levels` as run.json keeps them (the inverse of `run_levels`)."""
    return {name: {"nodes": list(nodes), "of_leaf": of_leaf.tolist()} for name, (nodes, of_leaf) in levels.items()}
