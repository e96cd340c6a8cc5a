"""The torch Dataset: decoded (or cached) uint8 image -> the augmentation plugin -> tensor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
