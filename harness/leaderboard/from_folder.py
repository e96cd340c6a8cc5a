"""Turn a labelled ImageFolder (`train/CLASS/*` plus a labelled `val/` or `test/` split) into a
Kaggle-style competition folder: `train.csv` + `train/ID.EXT`, `test/ID.EXT` + a sample submission,
and the answer key `private/solution.csv`, through the same `write_tables` as the digits.

Every image gets an opaque, zero-padded id (`0042`): the files are ordered by SHA-256 of (seed,
source path) and numbered, so the ids carry neither the class nor the source order. Image bytes are
copied (or hard-linked) unchanged. The harness loader reads one extension (`data.extension`), so
every file is named with the most common extension of the source; a file of another format keeps
its bytes under that name (images are decoded by content, not by name).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.data.competition import IMAGE_EXTENSIONS
from harness.data.kaggle_tables import seeded_order, write_tables
from harness.errors import HarnessError

HOLDOUT_NAMES = ("val", "valid", "validation", "test")


@dataclass(frozen=True)
class Converted:
    classes: tuple[str, ...]
    extension: str
    answer_key: Path
    train: int
    test: int
    renamed: int  # files whose own extension differs from `extension`
    holdout: str  # the source folder the hidden test set came from


def _scan(folder: Path, root: Path) -> list[tuple[Path, str]]:
    """(file, class) for every image under folder/CLASS/, in a stable order."""
    found = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(class_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
                found.append((f, class_dir.name))
    if not found:
        raise HarnessError(f"{folder}: no images under {folder.relative_to(root)}/CLASS/")
    return found


def _place(src: Path, dst: Path, link: bool) -> None:
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # another file system, or not allowed: copy instead
    shutil.copyfile(src, dst)


def is_imagefolder(src: Path) -> bool:
    return (src / "train").is_dir() and any((src / n).is_dir() for n in HOLDOUT_NAMES)


def convert_imagefolder(src: Path, out: Path, *, kind: str, seed: int, public: float, link: bool) -> Converted:
    if not is_imagefolder(src):
        raise HarnessError(f"{src} is not a labelled ImageFolder: expected train/CLASS/* and a labelled "
                           f"{' or '.join(n + '/' for n in HOLDOUT_NAMES)} next to it")
    holdout_dir = next(src / n for n in HOLDOUT_NAMES if (src / n).is_dir())
    train = _scan(src / "train", src)
    test = _scan(holdout_dir, src)
    classes = tuple(sorted({c for _, c in train}))
    unknown = sorted({c for _, c in test} - set(classes))
    if unknown:
        raise HarnessError(f"{holdout_dir}: class folder(s) {unknown} have no training images in {src / 'train'}")
    if len(classes) < 2:
        raise HarnessError(f"{src / 'train'}: found {len(classes)} class; a competition needs at least 2")
    if out.exists() and any(out.iterdir()):
        raise HarnessError(f"--out {out} already exists and is not empty; choose another folder "
                           f"(or register an existing competition folder with --from {out})")
    suffixes = Counter(f.suffix for f, _ in train + test)
    ext = suffixes.most_common(1)[0][0]
    items = train + test
    order = seeded_order([f.relative_to(src).as_posix() for f, _ in items], seed)
    width = max(4, len(str(len(items) - 1)))
    ids = [""] * len(items)
    for number, i in enumerate(order):
        ids[i] = f"{number:0{width}d}"
    tables: list[tuple[list[str], list[str]]] = []
    for split, start, rows in (("train", 0, train), ("test", len(train), test)):
        (out / split).mkdir(parents=True, exist_ok=True)
        pairs = sorted((ids[start + k], label) for k, (_, label) in enumerate(rows))
        for k, (f, _) in enumerate(rows):
            _place(f, out / split / f"{ids[start + k]}{ext}", link)
        tables.append(([p[0] for p in pairs], [p[1] for p in pairs]))
    key = write_tables(out, tables[0], tables[1], classes, kind=kind, seed=seed, public=public)
    renamed = sum(n for s, n in suffixes.items() if s != ext)
    return Converted(classes, ext, key, len(train), len(test), renamed, holdout_dir.name)
