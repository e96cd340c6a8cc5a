"""Layer-wise learning-rate decay (`train.layer_decay`): the rate falls from the head to the stem
by the factor at each layer group, 1.0 changes nothing, every group keeps the keys the trainer
reads, and a rebuilt optimizer resumes exactly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import timm
import torch
from timm.models import group_parameters
from torch import nn

from harness.config.schema import TrainConfig
from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.train.loop import set_learning_rates
from harness.train.optim import build_optimizer
from harness_plugins.callbacks.freeze_backbone import FreezeBackbone
from harness_plugins.schedule.constant import Constant

LR = 1e-3


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model(name, num_classes=3)


def _rates(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """The base rate of every parameter, by name."""
    by_id = {id(p): g["base_lr"] for g in optimizer.param_groups for p in g["params"]}
    return {name: by_id[id(p)] for name, p in model.named_parameters() if id(p) in by_id}


@pytest.mark.parametrize("name", ["efficientnet_lite0", "test_resnet"])
@pytest.mark.parametrize("decay", [0.5, 0.8])
def test_rates_fall_from_head_to_stem_by_the_factor(name: str, decay: float) -> None:
    model = _model(name)
    rates = _rates(model, build_optimizer(model, TrainConfig(lr=LR, layer_decay=decay), LR))
    layers = group_parameters(model, model.group_matcher(coarse=False), reverse=True)  # type: ignore[operator]
    top = max(layers.values())  # the classifier's group, the last
    for param, rate in rates.items():
        assert rate == pytest.approx(LR * decay ** (top - layers.get(param, top))), param
    ordered = list(rates.values())  # timm models list their parameters from the stem to the head
    assert ordered == sorted(ordered), "the rate never rises from the head towards the stem"
    distinct = sorted(set(ordered), reverse=True)
    assert distinct[0] == pytest.approx(LR)  # the head learns at lr
    assert all(b / a == pytest.approx(decay) for a, b in zip(distinct, distinct[1:], strict=False))
    assert len(distinct) >= 5


def test_decay_one_gives_every_layer_the_same_rate_as_no_decay() -> None:
    model = _model("efficientnet_lite0")
    with_one = _rates(model, build_optimizer(model, TrainConfig(lr=LR, layer_decay=1.0), LR))
    off = _rates(model, build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.0), LR))
    assert with_one == off
    assert set(with_one.values()) == {LR}


def test_every_group_keeps_the_trainer_keys_and_weight_decay_rule() -> None:
    model = _model("efficientnet_lite0")
    optimizer = build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.8, weight_decay=0.05), LR)
    head = {id(p) for p in model.get_classifier().parameters()}  # type: ignore[operator]
    seen = 0
    for g in optimizer.param_groups:
        assert g["part"] in ("backbone", "head") and g["lr"] == g["base_lr"]
        assert all((id(p) in head) == (g["part"] == "head") for p in g["params"])
        assert g["weight_decay"] == (0.05 if all(p.ndim > 1 for p in g["params"]) else 0.0)
        assert all(p.ndim <= 1 for p in g["params"]) or all(p.ndim > 1 for p in g["params"])
        seen += len(g["params"])
    assert seen == len(list(model.parameters()))


def test_backbone_lr_mult_still_multiplies_and_zero_still_freezes() -> None:
    model = _model("efficientnet_lite0")
    full = _rates(model, build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.8), LR))
    half = _rates(model, build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.8, backbone_lr_mult=0.5), LR))
    for param, rate in full.items():
        assert half[param] == pytest.approx(rate if param.startswith("classifier") else rate * 0.5)
    frozen = build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.8, backbone_lr_mult=0.0), LR)
    assert {g["part"] for g in frozen.param_groups} == {"head"}
    assert not any(p.requires_grad for n, p in model.named_parameters() if not n.startswith("classifier"))


def test_callbacks_and_the_schedule_act_on_every_layer_group() -> None:
    model = _model("test_resnet")
    optimizer = build_optimizer(model, TrainConfig(lr=LR, layer_decay=0.5), LR)
    state: Any = SimpleNamespace(optimizer=optimizer, update=0, epoch=0)
    set_learning_rates(state, Constant(), [FreezeBackbone(epochs=1)])
    assert all(g["lr"] == (g["base_lr"] if g["part"] == "head" else 0.0) for g in optimizer.param_groups)
    state.epoch = 1
    set_learning_rates(state, Constant(), [FreezeBackbone(epochs=1)])
    assert all(g["lr"] == g["base_lr"] for g in optimizer.param_groups)


def test_a_rebuilt_optimizer_resumes_exactly() -> None:
    """A resume builds the model and optimizer afresh and loads the checkpoint's state by group
    position: the groups must come out in the same order every time."""
    cfg = TrainConfig(lr=LR, layer_decay=0.7, weight_decay=0.05)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])

    def steps(model: nn.Module, optimizer: torch.optim.Optimizer, n: int) -> None:
        for _ in range(n):
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    straight = _model("test_resnet")
    steps(straight, opt := build_optimizer(straight, cfg, LR), 3)
    first = _model("test_resnet")
    steps(first, opt_first := build_optimizer(first, cfg, LR), 2)
    saved_model, saved_opt = first.state_dict(), opt_first.state_dict()
    resumed = _model("test_resnet")
    resumed.load_state_dict(saved_model)
    opt_resumed = build_optimizer(resumed, cfg, LR)
    opt_resumed.load_state_dict(saved_opt)
    steps(resumed, opt_resumed, 1)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert [g["base_lr"] for g in opt.param_groups] == [g["base_lr"] for g in opt_resumed.param_groups]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_out_of_range_decay_is_rejected(bad: float) -> None:
    with pytest.raises(HarnessError, match="layer_decay"):
        from_dict(TrainConfig, {"layer_decay": bad}, "train")
