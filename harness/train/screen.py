"""Screen every image once before training (filling the decoded-image cache on the way).

A bad training image is skipped, counted and named; above `data.max_bad_fraction` the run stops.
A bad image to predict (test or holdout) is a hard error that names the file: a submission never
silently carries a substituted sample. The main process screens; the others read its verdict.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.config.schema import Recipe
from harness.console import warn
from harness.data.array_cache import array_folder, build_array
from harness.data.cache import ImageCache, default_cache_dir
from harness.data.check import scan
from harness.data.competition import Competition
from harness.data.stores import ArrayStore, FileStore, ImageStore
from harness.errors import HarnessError
from harness.runtime.resident import keep_on_device


def _describe(bad: dict[Path, str], limit: int = 5) -> str:
    items = [f"{p} ({why})" for p, why in list(bad.items())[:limit]]
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    return "; ".join(items) + more


def crop_detail_warning(recipe: Recipe) -> str | None:
    """A warning when the image cache keeps too few pixels for the augmentation's smallest
    training crop (its options' optional `min_crop_area()`): that crop is then an upscaled patch,
    blurrier than the images the run is scored on."""
    cfg = recipe.data
    min_area = getattr(recipe.augment.options, "min_crop_area", None)
    if not cfg.cache or min_area is None:
        return None
    area = min_area()
    needed = 1.0 / math.sqrt(area)
    if cfg.cache_oversize >= needed - 1e-9:
        return None
    patch = round(cfg.cache_side * math.sqrt(area))
    return (f"data.cache_oversize = {cfg.cache_oversize:g} caches {cfg.cache_side} px shorter sides, so the smallest "
            f"random crop ({area:.0%} of the area) is a {patch} px patch upscaled to {cfg.image_size} px; "
            f"data.cache_oversize = {math.ceil(needed * 100) / 100:g} keeps it at full detail "
            f"({(needed / cfg.cache_oversize) ** 2:.1f}x the cache's pixels)")


def _screen(paths: list[Path], recipe: Recipe, say: Callable[[str], None]) -> tuple[dict[int, str], ImageStore | None]:
    """Decode every path once (into the store the recipe asks for); {index: why} of the bad ones."""
    cfg = recipe.data
    workers = max(2, cfg.num_workers)
    start = time.perf_counter()
    if cfg.array:
        images = build_array(paths, cfg.image_size, array_folder(cfg.cache_dir), workers)
        what = "built" if images.built else "reused"
        say(f"image array {what}: {len(paths)} images at {cfg.image_size} px, "
            f"{images.array.nbytes / 2**20:.0f} MiB, {time.perf_counter() - start:.1f} s ({images.path})")
        return images.bad, ArrayStore(images)
    if not cfg.cache:
        return scan(paths, workers), None
    cache = ImageCache(Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir(), cfg.cache_side)
    bad = scan(paths, workers, decode=cache.ensure)
    return bad, FileStore({p: cache.entry(p) for i, p in enumerate(paths) if i not in bad})


def _open_store(paths: list[Path], recipe: Recipe, bad: set[Path]) -> ImageStore | None:
    """The store the main process filled, opened without decoding anything (another process's)."""
    cfg = recipe.data
    if cfg.array:
        return ArrayStore(build_array(paths, cfg.image_size, array_folder(cfg.cache_dir)))  # reused: its key matches
    if not cfg.cache:
        return None
    cache = ImageCache(Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir(), cfg.cache_side)
    return FileStore({p: cache.entry(p) for p in paths if p not in bad})


def screen_images(
    comp: Competition, recipe: Recipe, acc: Any, out_dir: Path, say: Callable[[str], None]
) -> tuple[Competition, ImageStore | None]:
    """The competition without its unreadable training images, and the store every image is then
    read from (None: the files, decoded each time). The main process decodes; the others wait
    for its verdict and open the same store."""
    cfg = recipe.data
    splits = {"train": comp.train, "test": comp.test, "holdout": comp.holdout}
    paths = sorted({p for s in splits.values() if s is not None for p in s.paths})
    verdict_file = out_dir / "bad_images.json"
    store: ImageStore | None = None
    if acc.is_main_process:
        if note := crop_detail_warning(recipe):
            warn(note)
        bad_idx, store = _screen(paths, recipe, say)
        bad = {str(paths[i]): why for i, why in bad_idx.items()}
        verdict_file.write_text(json.dumps(bad, indent=2) + "\n")
    acc.wait_for_everyone()
    bad_paths = {Path(p): why for p, why in json.loads(verdict_file.read_text()).items()}
    if not acc.is_main_process:
        store = _open_store(paths, recipe, set(bad_paths))
    if isinstance(store, ArrayStore):
        kept = keep_on_device(store, cfg.array_on_device, acc.device)
        if kept is not store:
            say(f"image array kept whole on {acc.device} ({cfg.array_on_device}): batches are gathered there")
        store = kept
    for name in ("test", "holdout"):
        split = splits[name]
        hit = {p: bad_paths[p] for p in (split.paths if split else ()) if p in bad_paths}
        if hit:
            raise HarnessError(f"{len(hit)} unreadable {name} image(s) cannot be predicted: {_describe(hit)}")
    train_bad = {p: bad_paths[p] for p in comp.train.paths if p in bad_paths}
    if train_bad:
        fraction = len(train_bad) / len(comp.train)
        if fraction > cfg.max_bad_fraction:
            raise HarnessError(
                f"{len(train_bad)} of {len(comp.train)} training images ({fraction:.1%}) are unreadable, over "
                f"data.max_bad_fraction={cfg.max_bad_fraction}: {_describe(train_bad)}"
            )
        say(f"skipping {len(train_bad)} unreadable training image(s), listed in {verdict_file}: "
            f"{_describe(train_bad, limit=20)}")
        keep = np.array([p not in bad_paths for p in comp.train.paths])
        comp = replace(comp, train=comp.train.subset(np.flatnonzero(keep)))
    return comp, store


__all__ = ["screen_images"]
