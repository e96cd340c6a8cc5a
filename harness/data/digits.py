"""`harness data digits DIR`: a real, small Kaggle-style competition from scikit-learn's bundled
handwritten digits (1,797 real 8x8 scans, 10 classes), split 80/20, stratified and deterministic.

Writes train.csv + train/*.png, test/*.png + sample_submission.csv for the competitor, and the
answer key `solution.csv` (with a Public/Private `Usage` column) under `DIR/private/`, through the
same `write_tables` as every other competition. `leaderboard/digits/competition.toml` registers it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from harness.data.kaggle_tables import write_tables

SEED = 20240601


def write_digits(out: Path) -> dict[str, int]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
    labels = digits.target.astype(int)
    ids = np.array([f"d{i:04d}" for i in range(len(labels))])
    tr, te = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=SEED)
    tr, te = np.sort(tr), np.sort(te)
    for split, idx in (("train", tr), ("test", te)):
        (out / split).mkdir(parents=True, exist_ok=True)
        for i in idx:
            Image.fromarray(images[i]).save(out / split / f"{ids[i]}.png")
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    write_tables(out, (ids[tr].tolist(), [str(x) for x in labels[tr]]), (ids[te].tolist(), [str(x) for x in labels[te]]),
                 classes, seed=SEED)
    return {"train": len(tr), "test": len(te), "classes": int(labels.max() + 1)}
