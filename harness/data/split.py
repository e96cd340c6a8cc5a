"""The typed result of reading a competition folder: its splits (ids, image paths, labels) and
the competition that holds them. `harness.data.competition` reads a folder into these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


@dataclass(frozen=True)
class Split:
    ids: tuple[str, ...]
    paths: tuple[Path, ...]
    labels: np.ndarray | None  # class indices, or None for an unlabelled test set
    groups: np.ndarray | None = None  # `cv.group_column`: samples of one group share a fold

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> Split:
        keep = np.asarray(keep, dtype=np.int64)
        return Split(
            tuple(self.ids[i] for i in keep),
            tuple(self.paths[i] for i in keep),
            None if self.labels is None else self.labels[keep],
            None if self.groups is None else self.groups[keep],
        )


@dataclass(frozen=True)
class TaskLabels:
    """A further label set of the same images (`data.tasks`): its classes, and the class of every
    image labelled for it, by id (training and holdout images; an image without a label for it
    trains the other tasks only)."""

    name: str
    classes: tuple[str, ...]
    by_id: dict[str, int]

    def of(self, ids: tuple[str, ...] | list[str]) -> np.ndarray:
        """The class index of each id, -1 where it has none."""
        return np.array([self.by_id.get(i, -1) for i in ids], dtype=np.int64)


@dataclass(frozen=True)
class Competition:
    root: Path
    layout: str
    classes: tuple[str, ...]
    train: Split
    test: Split | None  # unlabelled: goes into submission.csv
    holdout: Split | None  # labelled: scored as holdout_score
    sample_submission: pd.DataFrame | None
    tasks: tuple[TaskLabels, ...] = ()  # the further label sets of `data.tasks`, in order

    @property
    def num_classes(self) -> int:
        return len(self.classes)
