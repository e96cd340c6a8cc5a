"""The torch Dataset: decoded (or cached) uint8 image -> the augmentation plugin -> tensor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from harness.data.cache import ImageCache
from harness.data.images import load_array
from harness.specs import SampleTransform


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one sample's augmentation in one epoch: the same on any number of workers."""
    return (seed * 1_000_003 + epoch * 100_003 + index) % (2**63 - 1)


def at_epoch(transform: SampleTransform, epoch: int) -> SampleTransform:
    """The transform of an item of `epoch`: an `EpochSampleTransform`'s own for that epoch
    (progressive resizing), else `transform` itself."""
    pick = getattr(transform, "at_epoch", None)
    return pick(epoch) if callable(pick) else transform


class ImageDataset(Dataset):
    """Yields (image, label, index); index points back into the split, so predictions gathered
    from several processes can be put back in order exactly."""

    def __init__(
        self,
        paths: Sequence[Path],
        labels: np.ndarray | None,
        transform: SampleTransform,
        cache_entries: Sequence[Path] | None = None,
        seed: int = 0,
    ):
        self.paths = list(paths)
        self.labels = labels
        self.transform = transform
        self.cache_entries = cache_entries
        self.seed = seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        """`key` is an index, or (index, epoch) from `EpochTagged`: then the augmentation draws
        from a generator seeded by (seed, epoch, index), leaving the global RNG untouched, and
        is the transform's own for that epoch (`at_epoch`)."""
        if isinstance(key, tuple):
            i, epoch = key
            # The CPU generator only, saved and restored by hand: torch.random.fork_rng and
            # torch.manual_seed (which also queues CUDA seeding) measured 0.5-0.9 ms an item here.
            cpu = torch.default_generator
            saved = cpu.get_state()
            cpu.manual_seed(sample_seed(self.seed, epoch, i))
            try:
                return self._item(i, at_epoch(self.transform, epoch))
            finally:
                cpu.set_state(saved)
        return self._item(key, self.transform)

    def _item(self, i: int, transform: SampleTransform) -> tuple[torch.Tensor, int, int]:
        if self.cache_entries is not None:
            arr = ImageCache.read(self.cache_entries[i])
        else:
            arr = load_array(self.paths[i])
        image = torch.from_numpy(arr).permute(2, 0, 1)
        label = -1 if self.labels is None else int(self.labels[i])
        return transform(image), label, i


class ArrayDataset(Dataset):
    """Rows of a uint8 (N, S, S, 3) array, fetched a whole batch at a time: the DataLoader hands
    `__getitems__` the batch's keys (indices, or (index, epoch) from `EpochTagged`), which reads
    them in one fancy-indexed copy and applies `transform` once to the (B, 3, S, S) batch. So the
    transform must treat every image alike (resize, normalize); random augmentation belongs in
    the recipe's [batch_transforms], which draw per image on the device. Yields what
    `ImageDataset` yields, batched: (images, labels, indices)."""

    def __init__(self, array: np.ndarray, rows: np.ndarray, labels: np.ndarray | None, transform: SampleTransform):
        self.array, self.rows, self.transform = array, rows, transform
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitems__(self, keys: Sequence[int | tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = np.array([k[0] if isinstance(k, tuple) else k for k in keys], dtype=np.int64)
        images = self.transform(self.block(self.rows[index]).permute(0, 3, 1, 2))
        picked = torch.from_numpy(index)
        labels = torch.full((len(index),), -1, dtype=torch.int64) if self.labels is None else self.labels[picked]
        return images, labels, picked

    def block(self, rows: np.ndarray) -> torch.Tensor:
        """The (B, S, S, 3) uint8 images of `rows`, read from the array in ascending row order:
        one forward sweep through the file."""
        order = np.argsort(rows, kind="stable")
        host = np.empty((len(rows), *self.array.shape[1:]), dtype=np.uint8)
        host[order] = self.array[rows[order]]
        return torch.from_numpy(host)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        images, labels, index = self.__getitems__([key])
        return images[0], int(labels[0]), int(index[0])

    @staticmethod
    def collate(batch: Any) -> Any:
        """The batch `__getitems__` made is the batch: nothing to stack."""
        return batch
