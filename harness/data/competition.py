"""Read a competition folder into one typed object.

Two layouts:
- Kaggle: `train.csv` (id, label), `train/ID.EXT`, `test/ID.EXT`, `sample_submission.csv`.
  Column names, folder names and the extension come from the recipe's [data] section; left empty,
  `data.extension` is found from the files of the first ids (per folder), and a given one is strict.
- ImageFolder: `CLASS/*.jpg`, or `train/CLASS/*` with an optional labelled `val/` or `test/`
  holdout next to it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.config.schema import DataConfig
from harness.data.classes import class_index, sort_classes
from harness.data.csv import read_csv
from harness.data.outliers import gate_competition
from harness.data.split import IMAGE_EXTENSIONS, Competition, Split
from harness.errors import HarnessError
from harness.hierarchy.folders import FOLDERS, folder_tree, scan_nested
from harness.hierarchy.labels import check_hierarchy_settings, hierarchy_competition
from harness.multitask.labels import load_tasks

# Tried in this order when `data.extension` is left empty; upper case too (".JPG" from cameras).
PROBED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".ppm", ".pgm")
PROBE_IDS = 20


def _extensions_of(folder: Path, image_id: str) -> list[str]:
    """Every suffix ('' for an id that is a file name already) that makes `image_id` a file of `folder`."""
    found = [""] if Path(image_id).suffix.lower() in IMAGE_EXTENSIONS and (folder / image_id).is_file() else []
    for ext in PROBED_EXTENSIONS:
        for e in (ext, ext.upper()):
            if (folder / f"{image_id}{e}").is_file():
                found.append(e)
    return found


def detect_extension(folder: Path, ids: list[str], where: str) -> str:
    """The suffix that turns the first ids into files of `folder`: the most common over the first
    PROBE_IDS ids ('' when the ids are file names with their suffix)."""
    counts: dict[str, int] = {}
    for image_id in ids[:PROBE_IDS]:
        for ext in _extensions_of(folder, image_id):
            counts[ext] = counts.get(ext, 0) + 1
    if counts:
        return max(counts, key=lambda e: counts[e])  # ties: the first found, in PROBED_EXTENSIONS order
    if not folder.is_dir():
        raise HarnessError(f"{where}: image folder {folder} does not exist (data.train_dir / data.test_dir)")
    sample = sorted(p.name for _, p in zip(range(3), folder.iterdir(), strict=False))
    shown = ", ".join(repr(i) for i in ids[:3])
    raise HarnessError(f"{where}: no image file for the first ids ({shown}) with any image extension in {folder}; "
                       f"it holds files such as {', '.join(sample) or '(none)'}: check data.id_column, or set "
                       f"data.extension")


def _image_paths(folder: Path, ids: list[str], ext: str, where: str) -> tuple[Path, ...]:
    paths = tuple(folder / f"{i}{ext}" for i in ids)
    missing = [(i, p) for i, p in zip(ids, paths, strict=True) if not p.is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        other = sorted({e for i, _ in missing[:5] for e in _extensions_of(folder, i) if e != ext})
        hint = ""
        if other:
            found = ", ".join(repr(e) if e else "whole-name" for e in other)
            fix = other[0] or "''"  # '': the ids are the file names
            hint = (f"; the folder holds {found} files for these ids: --set data.extension={fix}"
                    " (or leave data.extension empty to detect it)")
        raise HarnessError(f"{where}: missing image file(s) {', '.join(str(p) for _, p in missing[:3])}{more}{hint}")
    return paths


def load_kaggle(root: Path, cfg: DataConfig, group_column: str = "") -> Competition:
    needed = [cfg.id_column, cfg.label_column] + ([group_column] if group_column else [])
    train_df = read_csv(root / cfg.train_csv, needed)
    if train_df[cfg.id_column].duplicated().any():
        dup = train_df[cfg.id_column][train_df[cfg.id_column].duplicated()].iloc[0]
        raise HarnessError(f"{root / cfg.train_csv}: id {dup!r} appears more than once")
    ids = train_df[cfg.id_column].tolist()
    raw_labels = train_df[cfg.label_column].tolist()
    classes = tuple(cfg.classes) or sort_classes(raw_labels)
    labels = class_index(raw_labels, classes, str(root / cfg.train_csv))
    groups = np.array(train_df[group_column].tolist(), dtype=object) if group_column else None
    ext = cfg.extension or detect_extension(root / cfg.train_dir, ids, "train")
    train = Split(tuple(ids), _image_paths(root / cfg.train_dir, ids, ext, "train"), labels, groups)
    sample = None
    test = None
    sub_path = root / cfg.sample_submission
    if sub_path.is_file():
        sample = read_csv(sub_path, [cfg.id_column])
        test_ids = sample[cfg.id_column].tolist()
        test_ext = cfg.extension or (detect_extension(root / cfg.test_dir, test_ids, "test") if test_ids else "")
        test = Split(tuple(test_ids), _image_paths(root / cfg.test_dir, test_ids, test_ext, "test"), None)
    return Competition(root, "kaggle", classes, train, test, None, sample)


def _scan_folder(folder: Path, classes: tuple[str, ...] | None, base: Path) -> tuple[tuple[str, ...], Split]:
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise HarnessError(f"{folder}: no class folders found (expected {folder}/CLASS/image.jpg)")
    found = tuple(d.name for d in class_dirs)
    classes = classes or found
    ids, paths, labels = [], [], []
    for d in class_dirs:
        if d.name not in classes:
            raise HarnessError(f"{folder}: class folder {d.name!r} is not in the class list {list(classes)}")
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
                ids.append(str(f.relative_to(base)))
                paths.append(f)
                labels.append(classes.index(d.name))
    if not ids:
        raise HarnessError(f"{folder}: no image files found")
    return classes, Split(tuple(ids), tuple(paths), np.array(labels, dtype=np.int64))


def load_imagefolder(root: Path, cfg: DataConfig) -> Competition:
    train_dir = root / cfg.train_dir
    if not train_dir.is_dir():
        train_dir = root
    nested = cfg.hierarchy == FOLDERS  # classes are the folders that hold images, at any depth
    if nested:
        classes = tuple(cfg.classes) or folder_tree(train_dir).leaves
        train = scan_nested(train_dir, root, classes)
    else:
        classes, train = _scan_folder(train_dir, tuple(cfg.classes) or None, root)
    holdout = None
    if train_dir != root:
        for name in ("val", "valid", "validation", cfg.test_dir):
            if (root / name).is_dir():
                holdout = scan_nested(root / name, root, classes) if nested else _scan_folder(root / name, classes, root)[1]
                break
    return Competition(root, "imagefolder", classes, train, None, holdout, None)


def load_competition(cfg: DataConfig, group_column: str = "") -> Competition:
    """The competition under `cfg.root`; `group_column` (cv.group_column) is read from train.csv."""
    if not cfg.root:
        raise HarnessError("data.root is not set: give the competition folder in the recipe or with --set data.root=DIR")
    root = Path(cfg.root)
    if not root.is_dir():
        raise HarnessError(f"data.root {root} is not a folder")
    layout = cfg.layout
    if layout == "auto":
        layout = "kaggle" if (root / cfg.train_csv).is_file() else "imagefolder"
    if group_column and layout != "kaggle":
        raise HarnessError(f"cv.group_column = {group_column!r} needs the Kaggle layout (a {cfg.train_csv} with that "
                           f"column); {root} is an ImageFolder")
    if layout == "kaggle" and cfg.hierarchy == FOLDERS:
        raise HarnessError(f"data.hierarchy = 'folders' reads the tree from ImageFolder nesting; {root} is a Kaggle "
                           "competition: give a CSV of child,parent rows")
    comp = load_kaggle(root, cfg, group_column) if layout == "kaggle" else load_imagefolder(root, cfg)
    if comp.num_classes < 2:
        raise HarnessError(f"{root}: found {comp.num_classes} class; a classifier needs at least 2")
    check_hierarchy_settings(cfg)
    if cfg.outliers:
        comp = gate_competition(comp, Path(cfg.outliers))
    if cfg.hierarchy:
        comp = hierarchy_competition(comp, cfg)
    if cfg.tasks:
        comp = replace(comp, tasks=load_tasks(comp, cfg))
    return comp


def check_folds(comp: Competition, folds: int) -> None:
    assert comp.train.labels is not None
    counts = np.bincount(comp.train.labels, minlength=comp.num_classes)
    small = [(comp.classes[i], int(n)) for i, n in enumerate(counts) if n < folds]
    if small:
        name, n = small[0]
        raise HarnessError(
            f"cv.folds={folds} but class {name!r} has only {n} image(s); "
            f"every class needs at least as many images as folds (lower cv.folds)"
        )
