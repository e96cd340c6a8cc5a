"""Where a run reads its decoded images from, once screening has decoded them: the per-image file
cache (`data.cache`, one `.npy` an image, any size) or one memory-mapped array (`data.array`, every
image at the training size, read by whole batches). Both give the trainer and the predictor a
dataset for any list of screened paths; a path they never screened (pseudo-labelled images from
outside the competition) gives None, and the caller decodes those files itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from torch.utils.data import Dataset

from harness.data.array_cache import ImageArray
from harness.data.dataset import ArrayDataset, ImageDataset
from harness.errors import HarnessError
from harness.specs import SampleTransform


class ImageStore(Protocol):
    def dataset(self, paths: Sequence[Path], labels: np.ndarray | None, transform: SampleTransform,
                seed: int = 0) -> Dataset | None: ...


class FileStore:
    """The per-image file cache: path -> its `.npy` entry."""

    def __init__(self, entries: Mapping[Path, Path]):
        self.entries = dict(entries)

    def dataset(self, paths: Sequence[Path], labels: np.ndarray | None, transform: SampleTransform,
                seed: int = 0) -> Dataset | None:
        if not all(p in self.entries for p in paths):
            return None
        return ImageDataset(paths, labels, transform, [self.entries[p] for p in paths], seed)


class ArrayStore:
    """One (N, S, S, 3) uint8 array; a batch is one fancy-indexed read of its rows (or, kept whole
    on a device, one gather there: harness/runtime/resident.py)."""

    def __init__(self, images: ImageArray):
        self.images = images

    def dataset(self, paths: Sequence[Path], labels: np.ndarray | None, transform: SampleTransform,
                seed: int = 0) -> Dataset | None:
        rows = self.images.rows(paths)
        return None if rows is None else self.rows_dataset(rows, labels, transform)

    def rows_dataset(self, rows: np.ndarray, labels: np.ndarray | None, transform: SampleTransform) -> ArrayDataset:
        return ArrayDataset(self.images.array, rows, labels, transform)


def check_batch_safe(transform: SampleTransform, size: int) -> None:
    """A HarnessError unless `transform` treats every image alike (two calls under different seeds
    agree), as an `ArrayDataset` needs: it transforms a whole batch at once."""
    import torch

    probe = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        a = transform(probe)
        torch.manual_seed(2)
        b = transform(probe)
    if not torch.equal(a, b):
        raise HarnessError("data.array transforms whole batches, but the augment draws at random per image: set "
                           "augment.options to a plain resize (standard: crop = \"resize\", hflip = 0) and put random "
                           "augmentation in [batch_transforms] (crop_flip, batch_affine, mixup_cutmix)")


def dataset_for(store: ImageStore | None, paths: Sequence[Path], labels: np.ndarray | None,
                transform: SampleTransform, seed: int = 0) -> Dataset:
    """The store's dataset of `paths`, or the files decoded one by one where it has none."""
    ds = store.dataset(paths, labels, transform, seed) if store is not None else None
    return ds if ds is not None else ImageDataset(paths, labels, transform, None, seed)
