"""A hierarchy from ImageFolder nesting (`data.hierarchy = "folders"`): `train/vehicle/ship/x.jpg`
is a photo of the leaf class `ship`, whose parent is `vehicle`. Every folder that holds images
is a leaf class; the folders above it are its ancestors, to any depth. The holdout folder
(`val/`, `test/`) nests the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.split import IMAGE_EXTENSIONS, Split
from harness.errors import HarnessError
from harness.hierarchy.tree import Hierarchy

FOLDERS = "folders"  # the data.hierarchy value that reads the tree from the folders


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def folder_tree(folder: Path) -> Hierarchy:
    """The tree of the class folders under `folder` (a split's root, such as train/)."""
    parent: dict[str, str] = {}
    leaves: list[str] = []
    where: dict[str, Path] = {}
    for d in sorted(p for p in folder.rglob("*") if p.is_dir() and not p.name.startswith(".")):
        subdirs = [s for s in d.iterdir() if s.is_dir() and not s.name.startswith(".")]
        holds_images = bool(_images(d))
        if holds_images and subdirs:
            raise HarnessError(f"data.hierarchy = 'folders': {d} holds both images and class folders; put its images "
                               "in a folder of their own class")
        if d.name in where:
            raise HarnessError(f"data.hierarchy = 'folders': two folders are named {d.name!r} ({where[d.name]} and {d}); "
                               "every class and node needs its own name")
        where[d.name] = d
        if d.parent != folder:
            parent[d.name] = d.parent.name
        if holds_images and not subdirs:
            leaves.append(d.name)
    if not leaves:
        raise HarnessError(f"data.hierarchy = 'folders': {folder} holds no class folder with images")
    return Hierarchy(parent, tuple(sorted(leaves)), f"{folder} (folder nesting)")


def scan_nested(folder: Path, base: Path, classes: tuple[str, ...]) -> Split:
    """Every image under `folder`, labelled by the name of the folder that holds it."""
    ids, paths, labels = [], [], []
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
            if f.parent.name not in classes:
                raise HarnessError(f"{f.parent}: class folder {f.parent.name!r} is not in the class list {list(classes)}")
            ids.append(str(f.relative_to(base)))
            paths.append(f)
            labels.append(classes.index(f.parent.name))
    if not ids:
        raise HarnessError(f"{folder}: no image files found")
    return Split(tuple(ids), tuple(paths), np.array(labels, dtype=np.int64))


def load_tree(hierarchy: str, root: Path, train_dir: str, classes: tuple[str, ...]) -> Hierarchy:
    """The tree `data.hierarchy` names: a child,parent CSV, or the folder nesting of an ImageFolder."""
    from harness.hierarchy.tree import read_hierarchy

    if hierarchy != FOLDERS:
        return read_hierarchy(Path(hierarchy), classes)
    folder = root / train_dir if (root / train_dir).is_dir() else root
    tree = folder_tree(folder)
    if tree.leaves != tuple(sorted(classes)):
        raise HarnessError(f"{tree.source}: its leaf folders {list(tree.leaves)[:8]} are not the run's classes "
                           f"{list(classes)[:8]}")
    return Hierarchy(tree.parent, tuple(classes), tree.source)
