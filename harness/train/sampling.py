"""Makes per-sample augmentation a pure function of (seed, epoch, sample index).

The wrapper tags every index the plugin's sampler yields with the epoch; the dataset seeds the
transform from that tag. So the random crop of image 17 in epoch 3 is the same whatever the
number of workers, persistent or not, and a resumed epoch can skip its first batches outright.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import Sampler


class EpochTagged(Sampler[tuple[int, int]]):
    def __init__(self, inner: Any):
        self.inner = inner
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        # Accelerate's loader calls set_epoch(its own count) at every iteration start; the trainer
        # sets the same count first, so a repeated call for the same epoch keeps the skip.
        if epoch != self.epoch:
            self.skip = 0
        self.epoch = epoch
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def skip_first(self, samples: int) -> None:
        """Leave out the first `samples` of this epoch's global draw (resuming mid-epoch)."""
        self.skip = samples

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for k, i in enumerate(self.inner):
            if k >= self.skip:
                yield int(i), self.epoch
