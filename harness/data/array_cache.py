"""Every image of a competition decoded once into one uint8 array of shape (N, S, S, 3) on disk,
memory-mapped: a batch is one fancy-indexed read of its rows, with no per-image Python, no file
opened per image, and the OS page cache shared by every fold, epoch and process (the layout of the
CIFAR speed records, airbench's loader, which keeps the set as one uint8 tensor).

Each image's shorter side is resized to S (bicubic) and the centre S x S kept, so this suits sets
of small images of one shape (CIFAR's 32 px) at their training size; random-resized crops of large photos want the per-image cache
(`data.cache`). The array's key covers each file's path, size and modification time, S and the
resize method: an edited or added file builds a new array. Building doubles as the screen: an
image that cannot be decoded is named in `bad` and its row stays zeros (never read)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data.cache import default_cache_dir
from harness.data.images import BadImage, load_rgb

VERSION = "array-v1-bicubic-shorter-side-centre-crop"
CHUNK = 512  # images a worker decodes between two writes into the array


def array_key(paths: Sequence[Path], size: int) -> str:
    """What the array depends on: each file's path, byte size and modification time (a stat, not a
    read: 50,000 stats take well under a second), the side and the resize method."""
    h = hashlib.sha1(f"{VERSION}\n{size}\n".encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def square(img: Image.Image, size: int) -> np.ndarray:
    """(size, size, 3) uint8: the shorter side resized to `size`, the centre kept."""
    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8)


@dataclass
class ImageArray:
    array: np.ndarray  # (N, S, S, 3) uint8, memory-mapped read-only
    index: dict[Path, int]  # path -> row
    bad: dict[int, str]  # row -> why it could not be decoded
    path: Path  # the .npy file
    built: bool  # False: an existing array was reused

    def rows(self, paths: Sequence[Path]) -> np.ndarray | None:
        """int64 rows of `paths`; None when one of them is not in the array (or is a bad image)."""
        try:
            rows = np.array([self.index[p] for p in paths], dtype=np.int64)
        except KeyError:
            return None
        return None if any(int(r) in self.bad for r in rows) else rows


def _open(npy: Path, meta: Path, paths: Sequence[Path], built: bool) -> ImageArray:
    info = json.loads(meta.read_text())
    array = np.load(npy, mmap_mode="r")
    return ImageArray(array, {p: i for i, p in enumerate(paths)}, {int(k): v for k, v in info["bad"].items()},
                      npy, built)


def array_folder(cache_dir: str) -> Path:
    """Where arrays live: `data.cache_dir`, else $HARNESS_CACHE/arrays (~/.cache/harness/arrays)."""
    return Path(cache_dir) if cache_dir else default_cache_dir().parent / "arrays"


def build_array(paths: Sequence[Path], size: int, folder: Path, workers: int = 2,
                advance: Callable[[int], None] | None = None) -> ImageArray:
    """The array of `paths` at side `size` in `folder`: reused when its key matches, else built
    (written under temporary names, then renamed: a reader never sees half an array)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = array_key(paths, size)
    npy, meta = folder / f"{key}.npy", folder / f"{key}.json"
    if npy.is_file() and meta.is_file():
        if advance:
            advance(len(paths))
        return _open(npy, meta, paths, built=False)
    tmp = folder / f".{key}.{os.getpid()}.npy.tmp"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
    bad: dict[int, str] = {}

    def chunk(start: int) -> int:
        stop = min(start + CHUNK, len(paths))
        for i in range(start, stop):
            try:
                out[i] = square(load_rgb(paths[i]), size)
            except BadImage as exc:
                bad[i] = str(exc)
        return stop - start

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # PIL decodes without the GIL
            for n in pool.map(chunk, range(0, len(paths), CHUNK)):
                if advance:
                    advance(n)
        out.flush()  # a rename of an open mapping is safe: readers open the renamed file afresh
        meta.write_text(json.dumps({"size": size, "count": len(paths), "version": VERSION,
                                    "bad": {str(k): v for k, v in sorted(bad.items())}}) + "\n")
        os.replace(tmp, npy)
    finally:
        if tmp.exists():
            tmp.unlink()
    return _open(npy, meta, paths, built=True)
