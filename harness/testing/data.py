"""Small synthetic competitions: each class is a colour and stripe orientation, so a tiny model
learns it in a few epochs, and the files are real PNG/JPEG images on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

PALETTE = [(200, 40, 40), (40, 180, 60), (50, 70, 210), (220, 200, 40), (160, 60, 200), (40, 200, 200)]


def _image(label: int, size: int, rng: np.random.Generator) -> Image.Image:
    base = np.array(PALETTE[label % len(PALETTE)], dtype=np.float64)
    arr = np.tile(base, (size, size, 1))
    stripes = (np.arange(size) // max(1, size // 4)) % 2 == 0
    if label % 2:
        arr[:, stripes] *= 0.5
    else:
        arr[stripes, :] *= 0.5
    arr += rng.normal(0, 12, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_kaggle_competition(
    root: Path, classes: int = 3, per_class: int = 10, test: int = 9, size: int = 24, seed: int = 0, ext: str = ".png"
) -> Path:
    """train.csv + train/, test/ + sample_submission.csv, and private/solution.csv."""
    rng = np.random.default_rng(seed)
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "test").mkdir(exist_ok=True)
    (root / "private").mkdir(exist_ok=True)
    rows = []
    for c in range(classes):
        for j in range(per_class):
            rows.append((f"tr{c}_{j:03d}", f"class_{c}"))
            _image(c, size, rng).save(root / "train" / f"tr{c}_{j:03d}{ext}")
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(root / "train.csv", index=False)
    test_rows = []
    for j in range(test):
        c = j % classes
        test_rows.append((f"te{j:03d}", f"class_{c}"))
        _image(c, size, rng).save(root / "test" / f"te{j:03d}{ext}")
    pd.DataFrame({"id": [r[0] for r in test_rows], "label": "class_0"}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame(test_rows, columns=["id", "label"]).assign(Usage="Public").to_csv(
        root / "private" / "solution.csv", index=False
    )
    return root


def make_imagefolder(root: Path, classes: int = 2, per_class: int = 8, val_per_class: int = 4, size: int = 24,
                     seed: int = 0) -> Path:
    """train/CLASS/*.jpg with a labelled val/CLASS/*.jpg holdout."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", per_class), ("val", val_per_class)):
        for c in range(classes):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(n):
                _image(c, size, rng).save(folder / f"{split}{c}_{j:03d}.jpg", quality=95)
    return root


# A three-level label tree with leaves at two depths, as ImageFolder nesting (data.hierarchy = "folders"):
# A -> {A1 -> {a, b}, A2 -> {c}}, B -> {d, e}
TREE_TOY = {"a": ("A", "A1"), "b": ("A", "A1"), "c": ("A", "A2"), "d": ("B",), "e": ("B",)}


def _tree_image(leaf: str, size: int, noise: float, gap: float, rng: np.random.Generator) -> Image.Image:
    """Near neighbours look alike: the trunk node sets the colour, the level-2 node the stripes'
    direction under A (B's two leaves share theirs), and siblings differ only by a shift of green."""
    nodes = TREE_TOY[leaf]
    arr = np.tile(np.array((190, 70, 70) if nodes[0] == "A" else (70, 70, 190), dtype=np.float64), (size, size, 1))
    stripes = (np.arange(size) // max(1, size // 4)) % 2 == 0
    if nodes[-1] == "A1":
        arr[stripes, :] *= 0.6
    else:
        arr[:, stripes] *= 0.6
    arr[..., 1] += gap * (leaf in ("b", "e"))
    arr += rng.normal(0, noise, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_tree_toy(root: Path, per_class: int = 8, val_per_class: int = 4, size: int = 24, noise: float = 12.0,
                  gap: float = 22.0, seed: int = 0) -> Path:
    """train/NODE/.../LEAF/*.jpg with a labelled val/ holdout nested alike: the three-level tree
    `TREE_TOY` (leaves a to e) as folder nesting. Siblings differ by `gap` in green against the
    pixels' noise sd `noise`: the ratio sets how hard they are to tell apart."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", per_class), ("val", val_per_class)):
        for leaf, nodes in TREE_TOY.items():
            folder = root.joinpath(split, *nodes, leaf)
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(n):
                _tree_image(leaf, size, noise, gap, rng).save(folder / f"{split}_{leaf}_{j:03d}.jpg", quality=95)
    return root
