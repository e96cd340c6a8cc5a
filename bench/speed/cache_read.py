"""Reading one decoded-image cache entry: `ImageCache.read` (one open, one read into a writable
array) against the memory map it replaced (`np.load(mmap_mode="r")`, three opens, then a copy
to make it writable), alternating over rounds on every entry of a folder's images.

    python bench/speed/cache_read.py --data ../shared/data/hymenoptera/train --rounds 5

Appends medians (ms an entry) and the ratio, with the machine, to bench/results/cache_read.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.data.cache import ImageCache

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

ROOT = BENCH.parent


def per_entry_ms(read: Callable[[Path], np.ndarray], entries: list[Path]) -> float:
    start = time.perf_counter()
    for entry in entries:
        read(entry)
    return (time.perf_counter() - start) / len(entries) * 1e3


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera" / "train")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--oversize", type=float, default=1.15)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    paths = sorted(q for q in args.data.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise SystemExit(f"no images under {args.data}: pass --data")
    cache = ImageCache(Path(tempfile.mkdtemp(prefix="harness-cache-")), round(args.size * args.oversize))
    entries = [cache.ensure(q) for q in paths]
    readers: dict[str, Callable[[Path], np.ndarray]] = {
        "read": ImageCache.read,
        "mmap_then_copy": lambda e: np.array(np.load(e, mmap_mode="r")),
    }
    ms: dict[str, list[float]] = {name: [] for name in readers}
    for r in range(args.rounds):
        for name in (list(readers) if r % 2 == 0 else list(readers)[::-1]):
            ms[name].append(per_entry_ms(readers[name], entries))
    med = {k: statistics.median(v) for k, v in ms.items()}
    record("cache_read", {"entries": len(entries), "rounds": args.rounds, "median_ms_per_entry": med,
                          "mmap_then_copy_vs_read_time": med["mmap_then_copy"] / med["read"], "raw": ms})


if __name__ == "__main__":
    main()
