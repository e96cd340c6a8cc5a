"""Freezing the backbone is a zero learning rate on its parameter groups for the first epochs:
under AdamW with weight decay the backbone does not move at all while the head learns."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from harness.config.schema import TrainConfig
from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.train.loop import set_learning_rates
from harness.train.optim import build_optimizer
from harness_plugins.callbacks.freeze_backbone import FreezeBackbone, FreezeOptions
from harness_plugins.schedule.constant import Constant


@pytest.mark.parametrize("frozen", [0, 1, 3])
def test_lr_factor_by_epoch_and_group(frozen: int) -> None:
    cb = FreezeBackbone(frozen)
    for epoch in range(5):
        state = SimpleNamespace(epoch=epoch)
        assert cb.lr_factor(state, "backbone") == (0.0 if epoch < frozen else 1.0)
        assert cb.lr_factor(state, "head") == 1.0


def test_the_backbone_does_not_move_while_frozen_and_the_head_does() -> None:
    torch.manual_seed(0)
    stem, head_layer = nn.Linear(4, 8), nn.Linear(8, 3)
    model = nn.Sequential(stem, nn.ReLU(), head_layer)  # the last child is the head
    optimizer = build_optimizer(model, TrainConfig(lr=0.1, weight_decay=0.5), lr=0.1)
    state: Any = SimpleNamespace(optimizer=optimizer, update=0, epoch=0)
    callbacks = [FreezeBackbone(epochs=1)]
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))

    def step() -> tuple[torch.Tensor, torch.Tensor]:
        backbone, head = stem.weight.detach().clone(), head_layer.weight.detach().clone()
        set_learning_rates(state, Constant(), callbacks)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
        return backbone, head

    backbone, head = step()
    assert torch.equal(stem.weight, backbone)
    assert not torch.equal(head_layer.weight, head)
    assert {g["part"]: g["lr"] for g in optimizer.param_groups} == {"backbone": 0.0, "head": 0.1}

    state.epoch = 1
    backbone, _ = step()
    assert not torch.equal(stem.weight, backbone)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(HarnessError):
        from_dict(FreezeOptions, {"epochs": -1}, "callbacks.freeze_backbone")
