"""Class names and their indices, in one place: the order a competition's classes take (numeric
names numerically, as the loader and every submission order them) and the label -> index map."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from harness.errors import HarnessError


def sort_classes(labels: Iterable[str]) -> tuple[str, ...]:
    """The distinct labels, numeric names in numeric order ('2' before '10'), others as strings."""
    uniq = sorted(set(labels))
    try:
        return tuple(sorted(uniq, key=float))
    except ValueError:
        return tuple(uniq)


def class_lookup(classes: Sequence[str]) -> dict[str, int]:
    """label -> its column in every probability table: the position in `classes`."""
    return {c: i for i, c in enumerate(classes)}


def class_index(labels: Iterable[str], classes: Sequence[str], where: str, known: str = "the class list") -> np.ndarray:
    """int64 class index of every label; a label outside `classes` is an error naming `where`."""
    values = [str(x) for x in labels]
    lookup = class_lookup(classes)
    missing = sorted(set(values) - set(lookup))
    if missing:
        raise HarnessError(f"{where}: label(s) {missing[:5]} not in {known} {list(classes)[:10]}")
    return np.array([lookup[x] for x in values], dtype=np.int64)
