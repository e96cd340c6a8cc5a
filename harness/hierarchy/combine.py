"""Predictions at every level of a hierarchy, consistent by construction: a predicted leaf
implies its parents.

- From a leaf run (`view_leaf_run`): each image's top leaf, and its ancestors at every level.
- From a trunk run and branch runs (`route`): each image goes to the branch of the node the
  trunk picks, which picks the leaf (hierarchical routing, the practice of classifiers with many
  fine classes under one coarse node). A branch's OOF and holdout hold its own images only, so an
  image that the trunk sends to another branch has no leaf there: it is wrong at the leaves by
  construction, and its leaf is left empty.

A run's probabilities come in as `RunProbs` (`harness.ensemble.run_probs` reads them from a run
folder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from harness.errors import HarnessError
from harness.hierarchy.tree import Hierarchy


@dataclass(frozen=True)
class RunProbs:
    """A run's pooled probabilities per set ("oof", "test", "holdout"), rows by id, and its labels."""

    classes: tuple[str, ...]
    probs: dict[str, pd.DataFrame]  # set -> (ids x classes)
    labels: dict[str, pd.Series]  # set -> true class by id (oof, holdout)


def level_names(tree: Hierarchy) -> list[str]:
    return [f"level_{k}" for k in range(1, tree.depth)] + ["leaf"]


def expand(tree: Hierarchy, leaves: pd.Series) -> pd.DataFrame:
    """Every level's label of each leaf (rows by `leaves`' index); an empty leaf stays empty above
    the levels known: a routed image's trunk node is kept in `level_1` by the caller. Each
    distinct leaf's ancestors are looked up once, not once a row (50,000 rows, a few leaves)."""
    distinct = set(leaves)
    rows = {name: leaves.map({x: tree.ancestor(x, k + 1) if x else "" for x in distinct}).to_list()
            for k, name in enumerate(level_names(tree)[:-1])}
    return pd.DataFrame({**rows, "leaf": list(leaves)}, index=leaves.index)


def view_leaf_run(tree: Hierarchy, run: RunProbs) -> dict[str, pd.DataFrame]:
    if tuple(run.classes) != tree.leaves:
        raise HarnessError(f"a leaf run's classes are the hierarchy's leaves {list(tree.leaves)[:8]}; this run has "
                           f"{list(run.classes)[:8]} (a level or branch run: give it as the trunk with its branches)")
    return {s: expand(tree, p.idxmax(axis=1)) for s, p in run.probs.items()}


def route(tree: Hierarchy, trunk: RunProbs, branches: Mapping[str, RunProbs]) -> dict[str, pd.DataFrame]:
    """Each set's labels per level: the trunk's top node at level 1, then the top leaf of that
    node's branch. Sets: OOF (each branch's OOF covers its own node's images: a fold model that
    never saw the image, whatever the folds of the other runs), test, holdout."""
    missing = [n for n in trunk.classes if n not in branches]
    if missing:
        raise HarnessError(f"the trunk's node(s) {missing} have no branch run (give one with --branch for each)")
    out: dict[str, pd.DataFrame] = {}
    for s in ("oof", "test", "holdout"):
        if s not in trunk.probs:
            continue
        picked = trunk.probs[s].idxmax(axis=1)
        leaves = pd.Series("", index=picked.index, dtype=object)
        for node, run in branches.items():
            if s not in run.probs:
                raise HarnessError(f"the branch run for {node!r} has no {s} predictions, and the trunk has")
            ids = picked.index[(picked == node).to_numpy()]
            known = ids.intersection(run.probs[s].index)
            leaves.loc[known] = run.probs[s].loc[known].idxmax(axis=1)
        table = expand(tree, leaves)
        table["level_1"] = picked  # known even where no leaf is
        out[s] = table
    return out


def level_accuracy(tree: Hierarchy, predicted: pd.DataFrame, truth: pd.Series) -> dict[str, float]:
    """Accuracy at every level of the rows `truth` labels (by leaf) that `predicted` holds: with
    `cv.only`, a trunk's OOF and a branch's cover different images, and only the ones both hold
    are scored."""
    truth = truth[truth.index.isin(predicted.index)]
    rows = predicted.loc[truth.index]
    want = expand(tree, truth)
    return {name: float((rows[name] == want[name]).mean()) for name in level_names(tree)}
