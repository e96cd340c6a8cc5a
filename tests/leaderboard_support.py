"""Tiny hand-written competitions for the leaderboard tests: the answer keys are literal, so the
expected scores can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.leaderboard.competition import Options, new_competition
from harness.leaderboard.registry import Definition

# label competition "toy": ids 001..012, Public 001-006, Private 007-012
LABEL_IDS = [f"{i:03d}" for i in range(1, 13)]
LABEL_TRUTH = ["ants", "bees", "wasps"] * 4
# probability competition "pets": two classes, so ROC AUC is the binary one
PROB_IDS = [f"p{i:02d}" for i in range(1, 9)]
PROB_TRUTH = ["cat", "cat", "dog", "dog", "cat", "dog", "cat", "dog"]


def _folder(root: Path, ids: list[str], truth: list[str], sample: pd.DataFrame) -> Path:
    (root / "private").mkdir(parents=True)
    classes = sorted(set(truth))
    pd.DataFrame({"id": [f"t{k}" for k in range(len(classes) * 2)], "label": classes * 2}).to_csv(
        root / "train.csv", index=False)
    sample.to_csv(root / "sample_submission.csv", index=False)
    usage = ["Public"] * (len(ids) // 2) + ["Private"] * (len(ids) - len(ids) // 2)
    pd.DataFrame({"id": ids, "label": truth, "Usage": usage}).to_csv(root / "private" / "solution.csv", index=False)
    return root


def label_competition(tmp: Path, metric: str = "accuracy", daily_limit: int = 5) -> Definition:
    root = _folder(tmp / "toy", LABEL_IDS, LABEL_TRUTH, pd.DataFrame({"id": LABEL_IDS, "label": "ants"}))
    return new_competition("toy", root, None, tmp / "board", Options(metric=metric, daily_limit=daily_limit),
                           "test").definition


def probability_competition(tmp: Path, metric: str = "log_loss") -> Definition:
    sample = pd.DataFrame({"id": PROB_IDS, "cat": 0.5, "dog": 0.5})
    root = _folder(tmp / "pets", PROB_IDS, PROB_TRUTH, sample)
    return new_competition("pets", root, None, tmp / "board", Options(metric=metric), "test").definition


def label_csv(labels: list[str], ids: list[str] | None = None) -> str:
    return "id,label\n" + "".join(f"{i},{v}\n" for i, v in zip(ids or LABEL_IDS, labels, strict=True))


def prob_csv(dog: list[float], ids: list[str] | None = None) -> str:
    return "id,cat,dog\n" + "".join(f"{i},{1 - p!r},{p!r}\n" for i, p in zip(ids or PROB_IDS, dog, strict=True))


def assert_no_leak(message: str, defn: Definition, *public: str) -> None:
    """No label of the answer key that is not already in a public text (the sample submission, the
    competitor's own file) appears in `message`."""
    shown = defn.sample_path.read_text() + "".join(public)
    key = pd.read_csv(defn.answer_key_path, dtype=str)
    for label in set(key["label"]):
        if label not in shown:
            assert label not in message, f"{label!r} of the answer key leaks in: {message}"
    assert "\n" not in message
