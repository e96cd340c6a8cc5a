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


def _run_with_holdout(tmp_path: Path, kaggle_comp: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                      predict: bool = True, sets: tuple[str, ...] = ()) -> Path:
    """One fold of the tiny Kaggle competition, given a labelled holdout of three training images."""
    from dataclasses import replace

    from harness.config.recipe import load_recipe
    from harness.data.competition import Split
    from harness.plugin_manager import load_plugins
    from harness.train import run as run_module

    from .conftest import TINY, write_recipe

    real = run_module.load_competition

    def with_holdout(*args, **kwargs):  # type: ignore[no-untyped-def]
        comp = real(*args, **kwargs)
        train = comp.train
        holdout = Split(tuple(f"h{i}" for i in range(3)), train.paths[:3], train.labels[:3])
        return replace(comp, holdout=holdout)

    monkeypatch.setattr(run_module, "load_competition", with_holdout)
    plugins = load_plugins()
    recipe = load_recipe(write_recipe(tmp_path / "r.toml", TINY.format(root=kaggle_comp)),
                         ["train.epochs=1", "cv.only=[0]", *sets], plugins)
    run_module.run_experiment(recipe, tmp_path / name, plugins, predict=predict)
    return tmp_path / name


def test_a_labelled_holdout_never_overwrites_the_test_submission(tmp_path: Path, kaggle_comp: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A competition with both an unlabelled test set and a labelled holdout: the submission is the
    test set's, in the sample submission's order; the holdout is scored and written apart."""
    run = _run_with_holdout(tmp_path, kaggle_comp, monkeypatch, "run")
    sub = pd.read_csv(run / "submission.csv", dtype=str)
    sample = pd.read_csv(kaggle_comp / "sample_submission.csv", dtype=str)
    assert list(sub.id) == list(sample.id)
    assert list(pd.read_csv(run / "holdout.csv", dtype=str).id) == ["h0", "h1", "h2"]


def test_a_trial_run_scores_its_oof_alone(tmp_path: Path, kaggle_comp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tuning trial's run (predict=False, train.checkpoints=false): the same OOF and CV as the
    full run, and no test or holdout predictions, submission, report or checkpoints."""
    import json

    full = _run_with_holdout(tmp_path, kaggle_comp, monkeypatch, "full")
    lean = _run_with_holdout(tmp_path, kaggle_comp, monkeypatch, "lean", predict=False, sets=("train.checkpoints=false",))
    assert list(full.glob("fold0/checkpoints/step-*")) and not (lean / "fold0" / "checkpoints").exists()
    pd.testing.assert_frame_equal(pd.read_csv(lean / "oof.csv"), pd.read_csv(full / "oof.csv"))
    m_full, m_lean = (json.loads((r / "metrics.json").read_text()) for r in (full, lean))
    assert m_lean["cv_score"] == m_full["cv_score"] and "holdout_score" in m_full and "holdout_score" not in m_lean
    for name in ("submission.csv", "holdout.csv", "report.html"):
        assert (full / name).is_file() and not (lean / name).exists(), name
