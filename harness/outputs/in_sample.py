"""A fold model's predictions of the rows it trained on, `fold{k}/in_sample.npz`, written by
`harness soft-labels`: the fold-safe soft labels of a stored teacher. Student fold k validates on
fold k's labels, which the teacher's fold-k model alone never saw, so that model's predictions
(every TTA view) are what may label student fold k's training rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.outputs.checkpoint import atomic_write

FILE = "in_sample.npz"


@dataclass(frozen=True)
class InSample:
    """Fold k's model on the rows outside fold k (its training rows): logits per TTA view."""

    ids: tuple[str, ...]
    logits: dict[str, np.ndarray]  # view -> (n, C), rows in `ids` order, views in the run's order


def in_sample_path(run_dir: Path, fold: int) -> Path:
    return run_dir / f"fold{fold}" / FILE


def write_in_sample(run_dir: Path, fold: int, ids: Sequence[str], logits: Mapping[str, np.ndarray]) -> Path:
    path = in_sample_path(run_dir, fold)
    arrays: dict[str, Any] = {"ids": np.array(list(ids)), "views": np.array(list(logits))}
    arrays.update({f"logits/{v}": np.asarray(x, dtype=np.float32) for v, x in logits.items()})
    atomic_write(path, lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))
    return path


def read_in_sample(run_dir: Path, fold: int) -> InSample | None:
    """Fold `fold`'s in-sample predictions, or None when `harness soft-labels` has not written them."""
    path = in_sample_path(run_dir, fold)
    if not path.is_file():
        return None
    with np.load(path) as npz:
        views = [str(v) for v in npz["views"]]
        return InSample(tuple(str(i) for i in npz["ids"]), {v: npz[f"logits/{v}"] for v in views})


__all__ = ["FILE", "InSample", "in_sample_path", "write_in_sample", "read_in_sample"]
