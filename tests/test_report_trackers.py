"""`train.log_with = ["tensorboard"]`: off by default, a clear error when its package is missing, the
recipe as hyperparameters, every epoch as `foldK/NAME` scalars; log.jsonl stays the record."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config.recipe import load_recipe
from harness.errors import HarnessError
from harness.runtime import trackers
from harness.testing import make_kaggle_competition

from .conftest import TINY


def _recipe(tmp_path: Path, *overrides: str):  # type: ignore[no-untyped-def]
    (tmp_path / "tiny.toml").write_text(TINY.format(root=tmp_path))
    return load_recipe(tmp_path / "tiny.toml", overrides)


def test_off_by_default_and_only_known_trackers(tmp_path: Path) -> None:
    assert _recipe(tmp_path).train.log_with == ()
    assert _recipe(tmp_path, "train.log_with=['tensorboard']").train.log_with == ("tensorboard",)
    with pytest.raises(HarnessError, match="log_with"):
        _recipe(tmp_path, "train.log_with=['wandb']")


def test_a_missing_package_is_an_error_that_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(HarnessError, match=r"tensorboard is not installed \(pip install tensorboard\)"):
        trackers.logging_dir(("tensorboard",), tmp_path)
    assert trackers.logging_dir((), tmp_path) is None  # nothing asked, nothing checked
    assert trackers.logging_dir(("tensorboard",), None) is None  # an Accelerator for prediction: no run folder


def test_hyperparameters_are_flat_scalars(tmp_path: Path) -> None:
    flat = trackers.hyperparameters(_recipe(tmp_path, "tta.views=['identity','hflip']"))
    assert flat["train.lr"] == 0.003 and flat["model.name"] == "test_resnet" and flat["cv.folds"] == 2
    assert flat["tta.views"] == "['identity', 'hflip']"
    assert all(isinstance(v, (bool, int, float, str)) for v in flat.values())


def test_epoch_scalars() -> None:
    row = {"fold": 3, "epoch": 1, "train_loss": 0.5, "val_score_ema": 0.9, "nonfinite_steps": 0, "note": "x"}
    assert trackers.epoch_scalars(row) == {"fold3/train_loss": 0.5, "fold3/val_score_ema": 0.9,
                                           "fold3/nonfinite_steps": 0.0}


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is optional: pip install tensorboard")
def test_a_run_logs_to_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    comp = make_kaggle_competition(tmp_path / "comp")
    (tmp_path / "tiny.toml").write_text(TINY.format(root=comp))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HARNESS_CACHE": str(tmp_path / "cache")}
    res = subprocess.run([sys.executable, "-m", "harness", "run", "tiny.toml", "--out", "run",
                          "--set", "data.extension='.png'", "--set", "train.log_with=['tensorboard']"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr
    events = EventAccumulator(str(tmp_path / "run" / trackers.PROJECT)).Reload()
    scalars = events.Tags()["scalars"]
    assert {"fold0/val_score", "fold1/train_loss", "run/cv_score"} <= set(scalars)
    history = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    logged = {e.step: e.value for e in events.Scalars("fold1/val_score")}
    assert logged == pytest.approx({h["epoch"]: h["val_score"] for h in history if h["fold"] == 1})
