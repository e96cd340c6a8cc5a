"""Read a competition folder into one typed object.

Two layouts:
- Kaggle: `train.csv` (id, label), `train/ID.EXT`, `test/ID.EXT`, `sample_submission.csv`.
  Column names, folder names and the extension come from the recipe's [data] section.
- ImageFolder: `CLASS/*.jpg`, or `train/CLASS/*` with an optional labelled `val/` or `test/`
  holdout next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config.schema import DataConfig
from harness.errors import HarnessError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


@dataclass(frozen=True)
class Split:
    ids: tuple[str, ...]
    paths: tuple[Path, ...]
    labels: np.ndarray | None  # class indices, or None for an unlabelled test set
    groups: np.ndarray | None = None  # `cv.group_column`: samples of one group share a fold

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> Split:
        keep = np.asarray(keep, dtype=np.int64)
        return Split(
            tuple(self.ids[i] for i in keep),
            tuple(self.paths[i] for i in keep),
            None if self.labels is None else self.labels[keep],
            None if self.groups is None else self.groups[keep],
        )


@dataclass(frozen=True)
class Competition:
    root: Path
    layout: str
    classes: tuple[str, ...]
    train: Split
    test: Split | None  # unlabelled: goes into submission.csv
    holdout: Split | None  # labelled: scored as holdout_score
    sample_submission: pd.DataFrame | None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _sort_classes(labels: list[str]) -> tuple[str, ...]:
    uniq = sorted(set(labels))
    try:
        return tuple(sorted(uniq, key=float))
    except ValueError:
        return tuple(uniq)


def _class_index(labels: list[str], classes: tuple[str, ...], where: str) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    missing = sorted(set(labels) - set(lookup))
    if missing:
        raise HarnessError(f"{where}: label(s) {missing[:5]} not in the class list {list(classes)[:10]}")
    return np.array([lookup[x] for x in labels], dtype=np.int64)


def _read_csv(path: Path, needed: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise HarnessError(f"missing file: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path} is not a readable CSV: {exc}") from exc
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise HarnessError(f"{path}: missing column(s) {absent}; columns are {list(df.columns)}")
    return df


def _image_paths(folder: Path, ids: list[str], ext: str, where: str) -> tuple[Path, ...]:
    paths = tuple(folder / f"{i}{ext}" for i in ids)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise HarnessError(f"{where}: missing image file(s) {', '.join(map(str, missing[:3]))}{more}")
    return paths


def load_kaggle(root: Path, cfg: DataConfig, group_column: str = "") -> Competition:
    needed = [cfg.id_column, cfg.label_column] + ([group_column] if group_column else [])
    train_df = _read_csv(root / cfg.train_csv, needed)
    if train_df[cfg.id_column].duplicated().any():
        dup = train_df[cfg.id_column][train_df[cfg.id_column].duplicated()].iloc[0]
        raise HarnessError(f"{root / cfg.train_csv}: id {dup!r} appears more than once")
    ids = train_df[cfg.id_column].tolist()
    raw_labels = train_df[cfg.label_column].tolist()
    classes = tuple(cfg.classes) or _sort_classes(raw_labels)
    labels = _class_index(raw_labels, classes, str(root / cfg.train_csv))
    groups = np.array(train_df[group_column].tolist(), dtype=object) if group_column else None
    train = Split(tuple(ids), _image_paths(root / cfg.train_dir, ids, cfg.extension, "train"), labels, groups)
    sample = None
    test = None
    sub_path = root / cfg.sample_submission
    if sub_path.is_file():
        sample = _read_csv(sub_path, [cfg.id_column])
        test_ids = sample[cfg.id_column].tolist()
        test = Split(tuple(test_ids), _image_paths(root / cfg.test_dir, test_ids, cfg.extension, "test"), None)
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
    classes, train = _scan_folder(train_dir, tuple(cfg.classes) or None, root)
    holdout = None
    if train_dir != root:
        for name in ("val", "valid", "validation", cfg.test_dir):
            if (root / name).is_dir():
                _, holdout = _scan_folder(root / name, classes, root)
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
    comp = load_kaggle(root, cfg, group_column) if layout == "kaggle" else load_imagefolder(root, cfg)
    if comp.num_classes < 2:
        raise HarnessError(f"{root}: found {comp.num_classes} class; a classifier needs at least 2")
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
