"""Score a validated submission against the hidden answer key, on its Public and its Private rows
separately, through `harness.metrics.score` like every other score in the harness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.data.classes import class_lookup
from harness.errors import HarnessError
from harness.leaderboard.registry import Definition, checked_answer_key
from harness.leaderboard.validate import Submission
from harness.specs import MetricSpec


@dataclass(frozen=True)
class Scores:
    public: float
    private: float | None  # None when the answer key has no Private rows


@dataclass(frozen=True)
class AnswerKey:
    ids: tuple[str, ...]
    labels: np.ndarray  # int class indices into the definition's classes
    public: np.ndarray  # bool: the row's Usage is Public


def read_answer_key(defn: Definition) -> AnswerKey:
    """The key, once its SHA-256 matches the definition. Its problems are reported without its values."""
    path = checked_answer_key(defn)
    key = pd.read_csv(path, dtype=str, keep_default_na=False)
    label_col = defn.label_column if defn.label_column in key.columns else "label"
    if not {defn.id_column, label_col, "Usage"} <= set(key.columns):
        raise HarnessError(f"{path}: the answer key needs the columns {defn.id_column}, {label_col}, Usage")
    index = class_lookup(defn.classes)
    if not set(key[label_col]) <= set(index):
        raise HarnessError(f"{path}: the answer key holds labels outside the class list of {defn.path}")
    if not set(key["Usage"]) <= {"Public", "Private"} or "Public" not in set(key["Usage"]):
        raise HarnessError(f"{path}: Usage must be Public or Private, with at least one Public row")
    labels = np.array([index[v] for v in key[label_col]], dtype=np.int64)
    return AnswerKey(tuple(key[defn.id_column]), labels, (key["Usage"] == "Public").to_numpy())


def score_submission(defn: Definition, sub: Submission, metric: MetricSpec) -> Scores:
    """Public and private scores; rows are matched by id, so their order in the file does not matter."""
    from harness.metrics import score

    key = read_answer_key(defn)
    row_of = {i: k for k, i in enumerate(sub.ids)}
    if set(row_of) != set(key.ids):
        raise HarnessError(f"the ids of {defn.sample_path} and of the answer key of {defn.name!r} differ: "
                           "the competition folder is inconsistent")
    probs = sub.probs[[row_of[i] for i in key.ids]]

    def part(mask: np.ndarray, name: str) -> float:
        try:
            return score(metric, key.labels[mask], probs[mask])
        except ValueError as exc:  # e.g. ROC AUC of a part with one class only
            raise HarnessError(f"{metric.name} cannot be computed on the {name} part of {defn.name!r}") from exc

    private = part(~key.public, "Private") if (~key.public).any() else None
    return Scores(part(key.public, "Public"), private)
