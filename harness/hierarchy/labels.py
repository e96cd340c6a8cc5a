"""A competition relabelled by its hierarchy (`data.hierarchy`): at one level (`data.level`, 1
being the trunk), each image labelled by its leaf's node at that level; or one branch
(`data.branch`), the images under one node labelled by their leaves. A branch run's test set
stays whole, so that every branch predicts every test image and `harness hierarchy` can route
each image to the branch its trunk picks; its holdout keeps the branch's images (the others have
no label among its classes)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.config.schema import DataConfig
from harness.data.split import Competition, Split
from harness.errors import HarnessError
from harness.hierarchy.folders import load_tree
from harness.hierarchy.tree import Hierarchy


def _relabel(split: Split | None, mapping: np.ndarray) -> Split | None:
    if split is None or split.labels is None:
        return split
    return replace(split, labels=mapping[split.labels])


def _keep(split: Split | None, leaves: np.ndarray, mapping: np.ndarray) -> Split | None:
    if split is None or split.labels is None:
        return split
    kept = split.subset(np.flatnonzero(np.isin(split.labels, leaves)))
    return _relabel(kept, mapping)


def at_level(comp: Competition, tree: Hierarchy, level: int) -> Competition:
    nodes, of_leaf = tree.level_index(level)  # the tree's leaves are comp.classes, in order (load_tree)
    mapping = np.array(of_leaf, dtype=np.int64)
    train = _relabel(comp.train, mapping)
    assert train is not None
    return replace(comp, classes=nodes, train=train, holdout=_relabel(comp.holdout, mapping), sample_submission=None)


def branch(comp: Competition, tree: Hierarchy, node: str) -> Competition:
    leaves = tree.under(node)
    rows = np.array([comp.classes.index(leaf) for leaf in leaves])
    mapping = np.full(comp.num_classes, -1, dtype=np.int64)
    mapping[rows] = np.arange(len(leaves))
    train = _keep(comp.train, rows, mapping)
    assert train is not None
    return replace(comp, classes=leaves, train=train, holdout=_keep(comp.holdout, rows, mapping),
                   sample_submission=None)


def hierarchy_competition(comp: Competition, cfg: DataConfig) -> Competition:
    """`comp` at `cfg.level` or on `cfg.branch` of the tree in `cfg.hierarchy`; the leaves as they are at level 0."""
    tree = load_tree(cfg.hierarchy, comp.root, cfg.train_dir, comp.classes)
    if cfg.branch:
        tree.check_node(cfg.branch, "data.branch")
        return branch(comp, tree, cfg.branch)
    tree.check_level(cfg.level, "data.level")
    return at_level(comp, tree, cfg.level) if cfg.level else comp


def check_hierarchy_settings(cfg: DataConfig) -> None:
    if (cfg.level or cfg.branch) and not cfg.hierarchy:
        key = "data.level" if cfg.level else "data.branch"
        raise HarnessError(f"{key} needs data.hierarchy, the CSV of child,parent rows that defines the levels")
    if cfg.level and cfg.branch:
        raise HarnessError("data.level and data.branch are exclusive: a branch run classifies the leaves under one node")
    if cfg.hierarchy and cfg.outliers:
        raise HarnessError("data.hierarchy and data.outliers are exclusive: a gate run classifies known against unknown")
