"""train.keep: which epoch's weights a fold predicts with ("best" on the fold's validation, or "last")."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from harness.plugin_manager import load_plugins
from harness.train.evaluate import choose_best, keep_best

from .conftest import train_tiny


def _epochs(scores: list[float], last: bool, folder: Path) -> SimpleNamespace:
    """Feeds keep_best one validation score an epoch; the model's bias is the epoch number."""
    metric = load_plugins().metrics()["accuracy"]
    acc = SimpleNamespace(is_main_process=True, wait_for_everyone=lambda: None)
    state = SimpleNamespace(best={}, best_epoch={}, epoch=0, accelerator=acc)
    model = nn.Linear(1, 1)
    for epoch, value in enumerate(scores):
        state.epoch = epoch
        with torch.no_grad():
            model.bias.fill_(epoch)
        keep_best(state, {"raw": value}, {"raw": model}, metric, lambda name: folder / f"best_{name}.safetensors", last=last)
    return state


@pytest.mark.parametrize(("last", "epoch"), [(False, 1), (True, 3)])
def test_keep_best_takes_the_first_best_epoch_and_keep_last_the_final_one(tmp_path: Path, last: bool, epoch: int) -> None:
    state = _epochs([0.7, 0.9, 0.8, 0.9], last, tmp_path)
    assert state.best_epoch == {"raw": epoch}
    assert state.best == {"raw": 0.9}
    saved = load_file(tmp_path / "best_raw.safetensors")
    assert float(next(v for k, v in saved.items() if k.endswith("bias"))) == epoch


def test_keep_last_scores_the_final_epoch_even_when_it_is_worse(tmp_path: Path) -> None:
    state = _epochs([0.7, 0.9, 0.8], True, tmp_path)
    assert state.best == {"raw": 0.8} and state.best_epoch == {"raw": 2}


def test_a_callback_candidate_still_replaces_the_raw_weights_only_when_it_scores_better() -> None:
    metric = load_plugins().metrics()["accuracy"]
    assert choose_best({"raw": 0.8, "ema": 0.85}, metric) == "ema"
    assert choose_best({"raw": 0.8, "ema": 0.8}, metric) == "raw"


@pytest.mark.slow
def test_a_run_with_keep_last_predicts_with_every_folds_final_epoch(tmp_path: Path) -> None:
    run = train_tiny(tmp_path, "train.keep='last'", "train.epochs=3") / "run"
    for fold in (0, 1):
        result = json.loads((run / f"fold{fold}" / "result.json").read_text())
        assert result["best_epoch"] == 2
        assert result["score"] == result["history"][-1]["val_score"]
