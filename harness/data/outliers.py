"""A gate run's competition: the training images of `data.root` ("known") told apart from a
folder of out-of-domain photos ("unknown", `data.outliers`). The test and holdout sets stay the
competition's, every id unchanged, so the gate's predictions line up with its main run's row for
row (`harness gate`); a holdout's images are all in-domain, labelled "known"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.data.split import IMAGE_EXTENSIONS, Competition, Split
from harness.errors import HarnessError

KNOWN, UNKNOWN = "known", "unknown"
GATE_CLASSES = (KNOWN, UNKNOWN)
ID_PREFIX = "outliers/"  # an outlier's id: its path under the folder, after this, so it cannot clash with a known id


def outlier_split(folder: Path) -> Split:
    """Every image file under `folder` (any nesting, sorted), labelled UNKNOWN."""
    if not folder.is_dir():
        raise HarnessError(f"data.outliers: {folder} is not a folder (give the folder of out-of-domain photos)")
    paths = tuple(sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS))
    if not paths:
        raise HarnessError(f"data.outliers: {folder} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                           "a gate needs out-of-domain photos to learn from")
    ids = tuple(ID_PREFIX + p.relative_to(folder).as_posix() for p in paths)
    return Split(ids, paths, np.full(len(paths), GATE_CLASSES.index(UNKNOWN), dtype=np.int64))


def gate_competition(comp: Competition, folder: Path) -> Competition:
    """`comp` as a known/unknown problem: its training images are KNOWN, `folder`'s are UNKNOWN."""
    if comp.train.groups is not None:
        raise HarnessError("data.outliers cannot be combined with cv.group_column: the outlier photos have no group")
    outliers = outlier_split(folder)
    train_paths = {p.resolve() for p in comp.train.paths}
    shared = [p for p in outliers.paths if p.resolve() in train_paths]
    if shared:
        raise HarnessError(f"data.outliers: {folder} holds {len(shared)} of the competition's own training images, "
                           f"e.g. {shared[0]}: the unknowns must be other photos")
    known = np.zeros(len(comp.train), dtype=np.int64)
    train = Split(comp.train.ids + outliers.ids, comp.train.paths + outliers.paths,
                  np.concatenate([known, outliers.labels]))
    holdout = comp.holdout
    if holdout is not None:
        holdout = replace(holdout, labels=np.zeros(len(holdout), dtype=np.int64))
    # No sample submission: the gate's submission.csv is id and known/unknown, whatever the main one's columns
    return replace(comp, classes=GATE_CLASSES, train=train, holdout=holdout, sample_submission=None)
