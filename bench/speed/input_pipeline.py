"""The input pipeline alone, no model: how many augmented training images a second the loader can
deliver, which bounds any accelerator fed by it. Side by side, alternating, in one invocation:

1. the harness's loader on JPEGs (ImageDataset, the `standard` plugin's transform, the epoch-tagged
   sampler, `make_loader`), as `harness run` builds it;
2. the same with the decoded-image cache (`data.cache`);
3. a bare torchvision ImageFolder + transforms v2 + DataLoader doing the same work;
4. the harness's loader with `persistent_workers=False` (workers started every epoch), the
   before of that default.

    python bench/speed/input_pipeline.py --data ../shared/data/hymenoptera/train --rounds 5

Appends medians and ratios, with the machine, to bench/results/input_pipeline.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from harness.config.typed import from_dict
from harness.data.cache import ImageCache
from harness.data.dataset import ImageDataset
from harness.data.images import BadImage
from harness.plugin_manager import load_plugins
from harness.runtime import make_loader
from harness.testing import context
from harness.train import EpochTagged

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

ROOT = BENCH.parent


def harness_loader(paths: list[Path], size: int, batch: int, workers: int, cache: ImageCache | None,
                   persistent: bool = True) -> DataLoader:
    plugins = load_plugins()
    spec = plugins.get("sample_transforms", "standard")
    ctx = context(num_classes=2, n=len(paths), image_size=size, batch_size=batch, mean=(0.5,) * 3, std=(0.5,) * 3)
    tf = spec.build(from_dict(spec.options, {"scale_min": 0.25}, "augment"), ctx, True)
    entries = None if cache is None else [cache.ensure(p) for p in paths]
    ds = ImageDataset(paths, np.zeros(len(paths), dtype=np.int64), tf, entries)
    sampler = EpochTagged(torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(0)))
    loader = make_loader(ds, batch, workers, sampler, drop_last=True)
    if persistent:
        return loader
    return DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=True,
                      worker_init_fn=loader.worker_init_fn, generator=loader.generator, persistent_workers=False)


def bare_loader(root: Path, size: int, batch: int, workers: int) -> DataLoader:
    tf = v2.Compose([
        v2.PILToTensor(), v2.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True), v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True), v2.Normalize((0.5,) * 3, (0.5,) * 3),
    ])
    ds = datasets.ImageFolder(str(root), transform=tf, is_valid_file=lambda f: f.lower().endswith((".jpg", ".jpeg")))
    return DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                      persistent_workers=workers > 0, pin_memory=torch.cuda.is_available())


def epoch_rate(loader: DataLoader, epoch: int) -> float:
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, EpochTagged):
        sampler.set_epoch(epoch)
    n, start = 0, time.perf_counter()
    for images, *_ in loader:
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera" / "train")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--oversize", type=float, default=1.15, help="data.cache_oversize")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    paths = sorted(q for q in args.data.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg"))
    if not paths:
        raise SystemExit(f"no JPEGs under {args.data}: pass --data")
    cache = ImageCache(Path(tempfile.mkdtemp(prefix="harness-cache-")), round(args.size * args.oversize))
    try:
        loaders = {
            "harness": harness_loader(paths, args.size, args.batch, args.workers, None),
            "harness_cached": harness_loader(paths, args.size, args.batch, args.workers, cache),
            "bare": bare_loader(args.data, args.size, args.batch, args.workers),
            "harness_fresh_workers": harness_loader(paths, args.size, args.batch, args.workers, None, persistent=False),
        }
    except BadImage as exc:
        raise SystemExit(f"an image cannot be decoded: {exc}") from exc
    for loader in loaders.values():
        epoch_rate(loader, 0)  # starts the persistent workers, warms the OS file cache
    rates: dict[str, list[float]] = {name: [] for name in loaders}
    order = list(loaders)
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[: r % len(order)]:
            rates[name].append(epoch_rate(loaders[name], r + 1))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in rates.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    summary = {
        "images": len(paths), "size": args.size,
        "batch": args.batch, "workers": args.workers, "oversize": args.oversize, "rounds": args.rounds,
        "median_img_per_s": med, "harness_vs_bare": med["harness"] / med["bare"],
        "cached_vs_uncached": med["harness_cached"] / med["harness"],
        "persistent_vs_fresh_workers": med["harness"] / med["harness_fresh_workers"], "raw": rates,
    }
    record("input_pipeline", summary)


if __name__ == "__main__":
    main()
