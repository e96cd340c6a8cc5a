"""Early stopping: stops exactly `patience` epochs after the last improvement larger than
`min_delta`, an improvement resets the count, lower-is-better metrics work, and the best of the
raw and EMA scores is what counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import MetricSpec
from harness.testing import train_state
from harness_plugins.callbacks.early_stopping import EarlyStopping, EarlyStoppingOptions


def metric(higher_is_better: bool = True) -> MetricSpec:
    return load_plugins().metric("accuracy" if higher_is_better else "log_loss")


def fake_state() -> Any:
    return train_state({})


def stop_epoch(scores: Sequence[float | dict[str, Any]], patience: int, min_delta: float = 0.0,
               higher_is_better: bool = True) -> int | None:
    """The epoch after which the callback asks to stop, or None."""
    state, cb = fake_state(), EarlyStopping(metric(higher_is_better), patience, min_delta)
    cb.on_fold_start(state)
    for epoch, value in enumerate(scores):
        state.metrics = value if isinstance(value, dict) else {"val_score": value, "val_loss": 9.9}
        cb.on_epoch_end(state)
        if state.stop:
            return epoch
    return None


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_stops_exactly_after_patience_epochs_without_improvement(patience: int) -> None:
    scores = [0.5, 0.6, 0.7] + [0.7] * 10
    assert stop_epoch(scores, patience) == 2 + patience
    assert stop_epoch(scores[: 2 + patience], patience) is None


def test_an_improvement_resets_the_count() -> None:
    assert stop_epoch([0.5, 0.4, 0.4, 0.6, 0.4, 0.4, 0.4], patience=3) == 6
    assert stop_epoch([0.5, 0.4, 0.4, 0.6, 0.4, 0.4], patience=3) is None


def test_improvements_within_min_delta_do_not_count() -> None:
    creeping = [0.50, 0.505, 0.51, 0.515]
    assert stop_epoch(creeping, patience=3, min_delta=0.02) == 3
    assert stop_epoch(creeping, patience=3, min_delta=0.0) is None
    assert stop_epoch([0.5, 0.51, 0.53, 0.53, 0.53], patience=2, min_delta=0.02) == 4  # 0.53 > 0.5 + 0.02


def test_lower_is_better() -> None:
    losses = [1.0, 0.8, 0.9, 0.85, 0.81]
    assert stop_epoch(losses, patience=3, higher_is_better=False) == 4
    assert stop_epoch(losses, patience=3, higher_is_better=True) == 3  # read as scores, 1.0 was the best


def test_the_best_candidate_counts() -> None:
    flat_raw_rising_ema = [{"val_score": 0.5, "val_score_ema": 0.5 + 0.01 * e} for e in range(6)]
    assert stop_epoch(flat_raw_rising_ema, patience=2) is None
    falling = [{"val_score": 1.0 - 0.1 * e, "val_score_ema": 1.5} for e in range(4)]
    assert stop_epoch(falling, patience=2, higher_is_better=False) is None


def test_state_dict_round_trip() -> None:
    state, cb = fake_state(), EarlyStopping(metric(), patience=3)
    cb.on_fold_start(state)
    for value in (0.5, 0.7, 0.6):
        state.metrics = {"val_score": value}
        cb.on_epoch_end(state)
    saved = cb.state_dict()
    assert saved == {"best": 0.7, "bad_epochs": 1}

    resumed, state = EarlyStopping(metric(), patience=3), fake_state()
    resumed.load_state_dict(saved)
    resumed.on_fold_start(state)
    for value in (0.65, 0.69):
        state.metrics = {"val_score": value}
        resumed.on_epoch_end(state)
    assert state.stop


@pytest.mark.parametrize("raw", [{"patience": 0}, {"min_delta": -0.1}, {"patience": 1.5}])
def test_bad_options_are_rejected(raw: dict) -> None:
    with pytest.raises(HarnessError):
        from_dict(EarlyStoppingOptions, raw, "callbacks.early_stopping")
