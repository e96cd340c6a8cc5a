"""Where the decoded-image array stops fitting: batch reads from the page cache against reads from
the disk, through the trainer's own reader (`harness.data.dataset.ArrayDataset`: one sorted,
fancy-indexed read of a shuffled batch's rows).

    python bench/speed/page_cache.py                      # 32 px and 224 px, 3 rounds each

A set whose array fits in the free memory is read from the page cache after its first epoch; one
that does not is read from the disk every epoch. This benchmark measures both cases on one array
file per image size: "warm" reads the file after it was read once, "cold" after the file's pages
are evicted with `posix_fadvise(POSIX_FADV_DONTNEED)` (no root needed; the pages of the file alone,
so nothing else on the machine is disturbed). Each round reads `--batches` shuffled batches of the
recipe's batch size; rounds alternate cold, warm and "resident": the array kept whole in the
device's memory (`data.array_on_device`, harness/runtime/resident.py), a batch one gather there
(`--device cuda`: on the GPU, against the map's batches pinned and copied there). It prints images/s and MB/s of each, their
medians, and the data-wait share an epoch would have at the trainer's measured rate
(`--train-rate`: images/s of `recipes/cifar10.toml` at 32 px and of EfficientNet-Lite0 fine-tuning
at 224 px on this CPU) when every batch comes cold: wait / (wait + compute), with reads not
overlapped (`data.num_workers = 0`, as the array recipes run).

The array files are random bytes (the reader does not look at them), written once in a scratch
folder and deleted at the end. Appends one row to bench/results/page_cache.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.runtime.device import host_to_device
from harness.runtime.resident import ResidentArrayDataset, copy_whole

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

# (size, images in the file, batch, the trainer's images/s on this CPU for that size)
CASES = {32: (200_000, 1024, 330.0), 224: (12_000, 64, 38.0)}


def make_array(path: Path, n: int, size: int) -> None:
    """An (n, size, size, 3) uint8 array file of random bytes, written in 256 MiB pieces."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    rng = np.random.default_rng(0)
    step = max(1, (256 << 20) // (size * size * 3))
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = rng.integers(0, 256, (stop - start, size, size, 3), dtype=np.uint8)
    out.flush()
    del out


def evict(path: Path) -> None:
    """Drops the file's pages from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_batches(path: Path, batch: int, batches: int, seed: int, device: str = "cpu",
                 resident: torch.Tensor | None = None) -> float:
    """Seconds to read `batches` shuffled batches through the trainer's ArrayDataset onto `device`,
    from a fresh memory map of the file (pages mapped into a process are not evicted, so none is
    kept) or, with `resident`, gathered from the array kept whole on the device
    (`data.array_on_device`). From the map to a GPU, each batch is pinned and copied without
    blocking, as the trainer's loader and Accelerate move it."""
    from harness.data.dataset import ArrayDataset

    array = np.load(path, mmap_mode="r")
    rows, same = np.arange(len(array)), lambda x: x
    ds = ArrayDataset(array, rows, None, same) if resident is None else ResidentArrayDataset(array, rows, None, same, resident)
    order = np.random.default_rng(seed).permutation(len(array))
    to_gpu, target = device != "cpu" and resident is None, torch.device(device)
    start = time.perf_counter()
    for b in range(batches):
        images, _, _ = ds.__getitems__(order[b * batch:(b + 1) * batch].tolist())
        if to_gpu:
            host_to_device(images, target)
    if device != "cpu":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def one_size(size: int, scratch: Path, rounds: int, batches: int, train_rate: float, device: str) -> dict[str, Any]:
    n, batch, _ = CASES[size]
    batches = min(batches, n // batch)
    path = scratch / f"array{size}.npy"
    t0 = time.perf_counter()
    make_array(path, n, size)
    write_s = time.perf_counter() - t0
    image_bytes = size * size * 3
    seconds: dict[str, list[float]] = {"cold": [], "warm": [], "resident": []}
    t0 = time.perf_counter()
    kept = copy_whole(np.load(path, mmap_mode="r"), torch.device(device))
    keep_s = time.perf_counter() - t0
    for r in range(rounds):
        evict(path)
        seconds["cold"].append(read_batches(path, batch, batches, 3 * r, device))
        read_batches(path, batch, batches, 3 * r + 1, device)  # the same pages: now cached
        seconds["warm"].append(read_batches(path, batch, batches, 3 * r + 1, device))
        seconds["resident"].append(read_batches(path, batch, batches, 3 * r + 2, device, kept))
    del kept
    images = batch * batches
    row: dict[str, Any] = {"size": size, "images_in_file": n, "file_gib": round(n * image_bytes / 2**30, 3),
                           "batch": batch, "batches": batches, "write_s": round(write_s, 2), "train_rate": train_rate,
                           "device": device, "keep_on_device_s": round(keep_s, 2)}
    for mode, secs in seconds.items():
        med = statistics.median(secs)
        row[f"{mode}_img_per_s"] = round(images / med, 1)
        row[f"{mode}_mb_per_s"] = round(images * image_bytes / med / 1e6, 1)
        row[f"{mode}_s"] = [round(s, 3) for s in secs]
        per_image = med / images
        wait = per_image / (per_image + 1.0 / train_rate)
        row[f"{mode}_data_wait_share"] = round(wait, 4)
        print(f"{size:>4} px {mode}: {images / med:>10.0f} images/s, {images * image_bytes / med / 1e6:>8.1f} MB/s; "
              f"data-wait share at {train_rate:g} images/s of training: {100 * wait:.2f}%", flush=True)
    path.unlink()
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=sorted(CASES), choices=sorted(CASES))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batches", type=int, default=40, help="batches read per measurement")
    p.add_argument("--scratch", type=Path, default=None, help="folder for the array files (default: a temp folder)")
    p.add_argument("--device", default="cpu", help="where the batches go: cpu, or cuda (pinned copies from the map "
                   "against the array kept on the GPU)")
    args = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="harness-pagecache-", dir=args.scratch))
    rows = [one_size(s, scratch, args.rounds, args.batches, CASES[s][2], args.device) for s in args.sizes]
    mem = {k: v for k, v in (line.split(":") for line in Path("/proc/meminfo").read_text().splitlines()[:3])}
    record("page_cache", {"rows": rows, "rounds": args.rounds,
                                "meminfo": {k: v.strip() for k, v in mem.items()}, "scratch_fs": str(scratch)})
    scratch.rmdir()


if __name__ == "__main__":
    main()
