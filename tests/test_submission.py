from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.outputs.tables import write_submission

CLASSES = ("a", "b", "c")
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])


def test_label_column_in_sample_order(tmp_path: Path) -> None:
    sample = pd.DataFrame({"id": ["y", "x"], "label": ["a", "a"]})
    sub = write_submission(tmp_path / "s.csv", sample, ["x", "y"], PROBS, CLASSES, "id", "label")
    assert list(sub.id) == ["y", "x"] and list(sub.label) == ["c", "a"]
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["id", "label"]


def test_probability_columns(tmp_path: Path) -> None:
    sample = pd.DataFrame({"id": ["x", "y"], "a": 0.0, "b": 0.0, "c": 0.0})
    sub = write_submission(tmp_path / "s.csv", sample, ["x", "y"], PROBS, CLASSES, "id", "label")
    np.testing.assert_allclose(sub[["a", "b", "c"]].to_numpy(), PROBS)


def test_missing_prediction_is_an_error(tmp_path: Path) -> None:
    sample = pd.DataFrame({"id": ["x", "z"], "label": ["a", "a"]})
    with pytest.raises(HarnessError, match="no prediction"):
        write_submission(tmp_path / "s.csv", sample, ["x", "y"], PROBS, CLASSES, "id", "label")
