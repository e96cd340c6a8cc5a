"""The data loaders of a run: seeded workers, their own generator, and pinned memory on a GPU."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harness.data.dataset import ArrayDataset
from harness.runtime.device import on_gpu
from harness.runtime.resident import ResidentArrayDataset


def seed_worker(worker_id: int) -> None:
    """numpy and random in a worker follow its torch seed (augmentation itself is seeded per sample)."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(ds: Dataset, batch: int, workers: int, sampler: Any = None, drop_last: bool = False,
                pin_memory: bool = True) -> DataLoader:
    """`pin_memory` acts only with a GPU: page-locked batches, which the Accelerator then copies
    without blocking the host (`data.pin_memory`). A dataset that reads whole batches
    (`ArrayDataset`) brings its own `collate`, and needs no worker processes: a batch is one read
    (or, from an array kept on the device, one gather there, which is not pinned)."""
    batched = isinstance(ds, ArrayDataset)
    workers = 0 if batched else workers
    on_device = isinstance(ds, ResidentArrayDataset)  # its batches are made on the device: nothing to pin
    return DataLoader(
        ds, batch_size=batch, sampler=sampler, shuffle=False, num_workers=workers,
        collate_fn=ArrayDataset.collate if batched else None,
        pin_memory=pin_memory and on_gpu() and not on_device, persistent_workers=workers > 0, drop_last=drop_last,
        worker_init_fn=seed_worker,
        # Its own generator: starting an epoch's iterator must not draw from the global RNG, which
        # dropout uses and a checkpoint restores.
        generator=torch.Generator().manual_seed(0),
    )
