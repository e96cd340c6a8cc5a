"""The tables of a Kaggle-style competition folder, written one way for every source (the digits
scans, an ImageFolder): `train.csv` (id, label), `sample_submission.csv` (the test ids, labels
hidden) and the answer key `private/solution.csv` (id, label, Usage).

The Public/Private `Usage` split is stratified by label and deterministic: within each class the
rows are ordered by SHA-256 of (seed, id), and the first half goes Public, so the same ids and seed
give the same split on any machine and any numpy version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ANSWER_KEY = Path("private") / "solution.csv"
KINDS = ("label", "probability")


def seeded_order(keys: Sequence[str], seed: int) -> list[int]:
    """Indices of `keys` in a pseudo-random order that depends only on the keys and the seed."""
    digest = [hashlib.sha256(f"{seed}:{k}".encode()).hexdigest() for k in keys]
    return sorted(range(len(keys)), key=lambda i: digest[i])


def usage_split(ids: Sequence[str], labels: Sequence[str], seed: int, public: float = 0.5) -> np.ndarray:
    """'Public' or 'Private' for each row: a share `public` of every class (rounded half up) is Public."""
    usage = np.full(len(ids), "Private", dtype=object)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for rows in by_class.values():
        order = seeded_order([ids[i] for i in rows], seed)
        for k in order[: int(len(rows) * public + 0.5)]:
            usage[rows[k]] = "Public"
    return usage


def sample_frame(test_ids: Sequence[str], classes: Sequence[str], kind: str, id_column: str = "id",
                 label_column: str = "label") -> pd.DataFrame:
    """The sample submission: the first class for every row (label), or uniform rows (probability)."""
    if kind == "label":
        return pd.DataFrame({id_column: list(test_ids), label_column: classes[0]})
    frame = pd.DataFrame({id_column: list(test_ids)})
    for c in classes:
        frame[c] = 1.0 / len(classes)
    return frame


def write_tables(out: Path, train: tuple[Sequence[str], Sequence[str]], test: tuple[Sequence[str], Sequence[str]],
                 classes: Sequence[str], *, kind: str = "label", seed: int = 0, public: float = 0.5) -> Path:
    """Write train.csv, sample_submission.csv and private/solution.csv under `out`; `train` and
    `test` are (ids, labels). Returns the answer key's path. The images are the caller's job."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    (out / ANSWER_KEY.parent).mkdir(parents=True, exist_ok=True)
    train_ids, train_labels = train
    test_ids, test_labels = test
    pd.DataFrame({"id": list(train_ids), "label": list(train_labels)}).to_csv(out / "train.csv", index=False)
    sample_frame(test_ids, [str(c) for c in classes], kind).to_csv(out / "sample_submission.csv", index=False)
    usage = usage_split(test_ids, [str(x) for x in test_labels], seed, public)
    key = pd.DataFrame({"id": list(test_ids), "label": list(test_labels), "Usage": usage})
    key.to_csv(out / ANSWER_KEY, index=False)
    return out / ANSWER_KEY
