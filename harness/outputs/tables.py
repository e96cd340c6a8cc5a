"""Prediction tables: OOF, per-fold test probabilities and the submission."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError


def prob_frame(ids: Sequence[str], probs: np.ndarray, classes: Sequence[str], id_col: str) -> pd.DataFrame:
    df = pd.DataFrame(probs, columns=[str(c) for c in classes])
    df.insert(0, id_col, list(ids))
    return df


def labelled(frame: pd.DataFrame, y: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """`frame` with a `label` column after the id: each row's class name, "" where `y` is -1 (a
    task that does not label the row)."""
    frame.insert(1, "label", [classes[i] if i >= 0 else "" for i in y])
    return frame


def write_submission(
    path: Path, sample: pd.DataFrame | None, ids: Sequence[str], probs: np.ndarray, classes: Sequence[str],
    id_col: str, label_col: str,
) -> pd.DataFrame:
    """Exactly the sample submission's columns and id order: a label column gets the argmax class,
    per-class columns get probabilities."""
    pred = pd.Series([classes[i] for i in probs.argmax(1)], index=list(ids))
    prob = prob_frame(ids, probs, classes, id_col).set_index(id_col)
    if sample is None:
        sub = pd.DataFrame({id_col: list(ids), label_col: pred.values})
    else:
        order = sample[id_col].tolist()
        missing = set(order) - set(pred.index)
        if missing:
            raise HarnessError(f"no prediction for {len(missing)} sample-submission id(s), e.g. {sorted(missing)[:3]}")
        sub = pd.DataFrame({id_col: order})
        for col in sample.columns:
            if col == id_col:
                continue
            if col in prob.columns:
                sub[col] = prob.loc[order, col].values
            elif col == label_col or len(sample.columns) == 2:
                sub[col] = pred.loc[order].values
            else:
                raise HarnessError(f"sample submission column {col!r} is neither {label_col!r} nor a class name")
    sub.to_csv(path, index=False)
    return sub
