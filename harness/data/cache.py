"""Decoded-image cache: each image decoded and resized once, stored as uint8 `.npy`, then read
from the OS page cache by every fold, epoch, worker and process.

Practitioners pre-resize to the training resolution; it pays most when source photos are far
larger than the network input. The shorter side is stored at `image_size * oversize`, so
random-resized crops still see more than the final size. The key covers the file's content,
the stored size and the resize method, so an edited file or a new size never hits a stale entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data.images import load_rgb

VERSION = "v1-bicubic-shorter-side"


def default_cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness")) / "images"


def cache_key(path: Path, short_side: int) -> str:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    return f"{digest}-{short_side}-{hashlib.sha1(VERSION.encode()).hexdigest()[:8]}"


def resize_shorter(img: Image.Image, short_side: int) -> Image.Image:
    w, h = img.size
    scale = short_side / min(w, h)
    if scale >= 1.0:
        return img  # never upscale in the cache: the transform does that at full quality
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)


class ImageCache:
    def __init__(self, folder: Path, short_side: int):
        self.folder = folder
        self.short_side = short_side
        self._entries: dict[Path, Path] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def entry(self, path: Path) -> Path:
        """The entry's file name; the content hash is computed once per path and remembered,
        since screening (`ensure`) and the dataset both ask for it."""
        if path not in self._entries:
            self._entries[path] = self.folder / f"{cache_key(path, self.short_side)}.npy"
        return self._entries[path]

    def ensure(self, path: Path) -> Path:
        """Decode and store `path` unless it is cached already; raises BadImage."""
        entry = self.entry(path)
        if not entry.is_file():
            arr = np.asarray(resize_shorter(load_rgb(path), self.short_side), dtype=np.uint8)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, arr)
            os.replace(tmp, entry)  # atomic: readers never see half an entry
        return entry

    @staticmethod
    def read(entry: Path) -> np.ndarray:
        """A writable HWC uint8 array. One open and one read: np.load's memory map (three opens,
        then a copy to make it writable) took 0.34 ms an entry against 0.18 (bench/speed/cache_read.py)."""
        with open(entry, "rb") as fh:
            return np.lib.format.read_array(fh)
