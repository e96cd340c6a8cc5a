"""An image array (`data.array`) kept whole in the device's memory, as airbench keeps CIFAR-10 on
its GPU: a batch is then one gather there, with nothing read from the memory map, pinned or
copied on the way (`data.array_on_device`). On a GPU the host's copy of each batch was 26% of an
epoch of `recipes/cifar10.toml` (an H200, bench/README.md), while on 2 CPU cores it is under 1%.

"auto" keeps the array on a GPU when it takes at most `SHARE` of the memory free there, so that
training keeps the rest; else batches come from the memory map as before. "yes" keeps it whatever
the device (on a CPU: a copy in RAM instead of the page cache's) and says so when it cannot fit;
"no" never does."""

from __future__ import annotations

import numpy as np
import torch

from harness.data.array_cache import ImageArray
from harness.data.dataset import ArrayDataset
from harness.data.stores import ArrayStore
from harness.errors import HarnessError
from harness.runtime.device import host_to_device
from harness.specs import SampleTransform

SHARE = 0.25  # the most of a GPU's free memory that "auto" gives the array
CHUNK_BYTES = 64 * 2**20  # the host copies the array to the device this much at a time


def fits(nbytes: int, free: int, share: float = SHARE) -> bool:
    return nbytes <= free * share


def resident_device(choice: str, nbytes: int, device: torch.device) -> torch.device | None:
    """The device to keep an `nbytes` array on, or None: read batches from the memory map."""
    if choice == "no":
        return None
    if device.type != "cuda":
        return device if choice == "yes" else None
    free, _ = torch.cuda.mem_get_info(device)
    if fits(nbytes, free, 1.0 if choice == "yes" else SHARE):
        return device
    if choice == "yes":
        raise HarnessError(f"data.array_on_device = \"yes\": the image array takes {nbytes / 2**30:.2f} GiB, over the "
                           f"{free / 2**30:.2f} GiB free on {device}; set it to \"auto\" or \"no\" to read batches "
                           "from the memory-mapped file")
    return None


def copy_whole(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy of the (N, ...) uint8 `array` on `device`, made a slice of rows at a time, so that a
    memory-mapped array never needs a second whole copy in the host's memory."""
    out = torch.empty(array.shape, dtype=torch.uint8, device=device)
    step = max(1, CHUNK_BYTES // max(1, array[0].nbytes))
    for start in range(0, len(array), step):
        out[start:start + step].copy_(torch.from_numpy(np.array(array[start:start + step])))
    return out


class ResidentArrayDataset(ArrayDataset):
    """An `ArrayDataset` whose batches are gathered from `resident`, the array whole on a device;
    its transform then runs there too. Only the batch's row numbers travel, pinned and without
    blocking the host."""

    def __init__(self, array: np.ndarray, rows: np.ndarray, labels: np.ndarray | None, transform: SampleTransform,
                 resident: torch.Tensor):
        super().__init__(array, rows, labels, transform)
        self.resident = resident

    def block(self, rows: np.ndarray) -> torch.Tensor:
        return self.resident.index_select(0, host_to_device(torch.from_numpy(rows), self.resident.device))


class ResidentArrayStore(ArrayStore):
    def __init__(self, images: ImageArray, resident: torch.Tensor):
        super().__init__(images)
        self.resident = resident

    def rows_dataset(self, rows: np.ndarray, labels: np.ndarray | None, transform: SampleTransform) -> ArrayDataset:
        return ResidentArrayDataset(self.images.array, rows, labels, transform, self.resident)


def keep_on_device(store: ArrayStore, choice: str, device: torch.device) -> ArrayStore:
    """`store` with its array kept whole on `device` where `choice` (`data.array_on_device`) and the
    free memory say so; else `store` itself."""
    where = resident_device(choice, store.images.array.nbytes, device)
    return store if where is None else ResidentArrayStore(store.images, copy_whole(store.images.array, where))
