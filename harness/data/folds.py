"""The fold assignment of a run: made from `cv.seed` alone (stratified, or stratified by group
with scikit-learn's `StratifiedGroupKFold`), or read from an `id,fold` CSV; and the
`data.fraction` subset it is made on. The same recipe gives the same folds whatever its
`train.seed`, model, image size or number of processes, so runs share folds and their OOFs
can be ensembled."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config.schema import Recipe
from harness.data.competition import Competition, check_folds
from harness.errors import HarnessError


def make_folds(labels: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Fold index per sample: stratified K-fold, or stratified group K-fold when `groups` is
    given (a group never straddles folds; classes are balanced as far as the groups allow)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    assignment = np.full(len(labels), -1, dtype=np.int64)
    x = np.zeros(len(labels))
    if groups is None:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, labels)
    else:
        n_groups = len(set(groups.tolist()))
        if n_groups < folds:
            raise HarnessError(f"cv.group_column: {n_groups} group(s) cannot fill cv.folds={folds} folds")
        splits = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, labels, groups)
    for k, (_, valid) in enumerate(splits):
        assignment[valid] = k
    return assignment


def read_folds(path: Path, ids: Sequence[str], folds: int, id_column: str = "id") -> np.ndarray:
    """The fold of every id from an `id,fold` CSV (such as an earlier run's folds.csv)."""
    if not path.is_file():
        raise HarnessError(f"cv.folds_file: {path} does not exist")
    table = pd.read_csv(path, dtype={id_column: str, "id": str}, keep_default_na=False)
    col = id_column if id_column in table.columns else "id"
    if col not in table.columns or "fold" not in table.columns:
        raise HarnessError(f"cv.folds_file: {path} needs the columns {id_column!r} and 'fold'; it has {list(table.columns)}")
    if table[col].duplicated().any():
        raise HarnessError(f"cv.folds_file: {path} lists id {table[col][table[col].duplicated()].iloc[0]!r} twice")
    lookup = dict(zip(table[col], table["fold"], strict=True))
    missing = [i for i in ids if i not in lookup]
    if missing:
        raise HarnessError(f"cv.folds_file: {path} has no fold for {len(missing)} training id(s), e.g. {missing[:3]}")
    assignment = np.array([int(lookup[i]) for i in ids], dtype=np.int64)
    used = sorted(set(assignment.tolist()))
    if used != list(range(folds)):
        raise HarnessError(f"cv.folds_file: {path} uses folds {used}, but cv.folds={folds} needs 0..{folds - 1}")
    return assignment


def fraction_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted positions of a stratified, seeded `fraction` of the samples (every class keeps at
    least one). `fraction` 1.0 keeps everything."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = max(1, int(round(fraction * len(members))))
        keep.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def folds_hash(ids: Sequence[str], folds: np.ndarray) -> str:
    """SHA-256 of the (id, fold) pairs in id order: equal exactly when two runs share folds."""
    h = hashlib.sha256()
    for i, k in sorted(zip(ids, folds.tolist(), strict=True)):
        h.update(f"{i}\t{k}\n".encode())
    return h.hexdigest()


def ids_hash(ids: Sequence[str]) -> str:
    """SHA-256 of a set of ids, in sorted order."""
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(f"{i}\n".encode())
    return h.hexdigest()


def assign_folds(comp: Competition, recipe: Recipe) -> tuple[Competition, np.ndarray, str]:
    """The training set after `data.fraction`, its folds, and where the folds came from."""
    cv = recipe.cv
    assert comp.train.labels is not None
    if recipe.data.fraction < 1.0:
        comp = replace(comp, train=comp.train.subset(fraction_subset(comp.train.labels, recipe.data.fraction, cv.seed)))
    check_folds(comp, cv.folds)
    assert comp.train.labels is not None
    if cv.folds_file:
        return comp, read_folds(Path(cv.folds_file), comp.train.ids, cv.folds, recipe.data.id_column), f"file:{cv.folds_file}"
    if cv.group_column:
        return comp, make_folds(comp.train.labels, cv.folds, cv.seed, comp.train.groups), f"group:{cv.group_column}"
    return comp, make_folds(comp.train.labels, cv.folds, cv.seed), "stratified"
