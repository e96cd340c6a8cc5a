"""Properties of the learning-rate schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import BuildContext, Schedule
from harness_plugins.schedule.classic import PlateauOptions, ReduceOnPlateau

EPOCHS, STEPS = 5, 10
TOTAL = EPOCHS * STEPS


def build(name: str, **options: object) -> Schedule:
    component = load_plugins().get("schedulers", name)
    ctx = BuildContext(num_classes=3, labels=np.zeros(8, dtype=np.int64), seed=0, epochs=EPOCHS,
                       steps_per_epoch=STEPS, batch_size=4, world_size=1, base_lr=1e-3, image_size=32)
    return component.build(from_dict(component.options, options, "scheduler"), ctx)


def test_warmup_cosine_endpoints() -> None:
    s = build("warmup_cosine", warmup_epochs=1.0, warmup_start_factor=0.01, min_factor=0.02)
    assert s.factor(0) == pytest.approx(0.01)
    assert s.factor(STEPS) == pytest.approx(1.0)
    assert s.factor(TOTAL - 1) == pytest.approx(0.02)
    values = [s.factor(u) for u in range(TOTAL)]
    assert values[:STEPS + 1] == sorted(values[:STEPS + 1])
    assert values[STEPS:] == sorted(values[STEPS:], reverse=True)


def test_warmup_cosine_fractional_and_zero_warmup() -> None:
    assert build("warmup_cosine", warmup_epochs=0.5).factor(STEPS // 2) == pytest.approx(1.0)
    assert build("warmup_cosine", warmup_epochs=0.0).factor(0) == pytest.approx(1.0)


def test_step_decay() -> None:
    s = build("step", step_epochs=2, gamma=0.5)
    assert [s.factor(u) for u in (0, 2 * STEPS - 1, 2 * STEPS, 4 * STEPS)] == [1.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_endpoints_and_torch_agreement(anneal: str) -> None:
    s = build("one_cycle", anneal=anneal)
    assert s.factor(0) == pytest.approx(1 / 25)
    assert max(s.factor(u) for u in range(TOTAL)) == pytest.approx(1.0)
    assert s.factor(TOTAL - 1) == pytest.approx(1 / 25 / 1e4)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=TOTAL, anneal_strategy=anneal)
    for u in range(TOTAL):
        assert s.factor(u) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        opt.step()
        if u < TOTAL - 1:
            ref.step()


def test_plateau_reduces_after_patience() -> None:
    s = build("plateau", mode="max", factor=0.5, patience=2)
    for metric in (0.5, 0.6, 0.6, 0.6):
        s.on_epoch_end(metric)
        assert s.factor(0) == 1.0
    s.on_epoch_end(0.59)  # the third epoch without improvement
    assert s.factor(123) == 0.5
    s.on_epoch_end(0.7)
    assert s.factor(0) == 0.5


def test_plateau_min_mode_and_state_round_trip() -> None:
    s = ReduceOnPlateau(PlateauOptions(mode="min", factor=0.1, patience=0))
    s.on_epoch_end(1.0)
    s.on_epoch_end(0.9)
    assert s.factor(0) == 1.0
    s.on_epoch_end(0.95)
    assert s.factor(0) == pytest.approx(0.1)
    resumed = ReduceOnPlateau(PlateauOptions(mode="min", factor=0.1, patience=0))
    resumed.load_state_dict(s.state_dict())
    for a in (s, resumed):
        a.on_epoch_end(0.92)
    assert resumed.state_dict() == s.state_dict() and resumed.factor(0) == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["warmup_cosine", "step", "plateau", "one_cycle"])
def test_every_schedule_is_positive_and_resumable(name: str) -> None:
    s, t = build(name), build(name)
    s.on_epoch_end(0.5)
    t.load_state_dict(s.state_dict())
    for u in range(TOTAL):
        f = s.factor(u)
        assert math.isfinite(f) and 0 < f <= 1.0
        assert t.factor(u) == f


@pytest.mark.parametrize(("name", "bad"), [
    ("warmup_cosine", {"min_factor": 2.0}), ("step", {"step_epochs": 0}), ("plateau", {"factor": 1.0}),
    ("one_cycle", {"pct_start": 1.0}),
])
def test_invalid_options_are_rejected(name: str, bad: dict[str, object]) -> None:
    with pytest.raises(HarnessError):
        build(name, **bad)


def test_plateau_auto_mode_follows_the_metric_direction() -> None:
    from harness_plugins.schedule.classic import PlateauOptions, ReduceOnPlateau

    for higher, metrics in ((True, [0.5, 0.4, 0.4]), (False, [0.5, 0.6, 0.6])):
        sched = ReduceOnPlateau(PlateauOptions(patience=1, factor=0.5), higher_is_better=higher)
        for m in metrics:
            sched.on_epoch_end(m)
        assert sched.factor(0) == 0.5  # two epochs worse than the first: reduced once
