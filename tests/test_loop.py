"""The training step itself: learning rates per group, frozen BatchNorm statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from harness.config.recipe import load_recipe
from harness.plugin_manager import load_plugins
from harness.testing import context
from harness.train.build import build_component
from harness.train.loop import train_one_epoch
from harness.train.optim import build_optimizer
from harness.train.state import TrainState

from .conftest import TINY


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4, 3)

    def get_classifier(self) -> nn.Module:
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_bn_keeps_running_statistics(tmp_path: Path, freeze: bool) -> None:
    torch.manual_seed(0)
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(TINY.format(root=tmp_path))
    plugins = load_plugins()
    recipe = load_recipe(recipe_path, [f"model.freeze_bn={str(freeze).lower()}", "model.channels_last=false"], plugins)
    acc = Accelerator(cpu=True)
    model = Net()
    optimizer = build_optimizer(model, recipe.train, 0.01)
    images = torch.randn(16, 3, 8, 8) * 3 + 1
    loader = DataLoader(TensorDataset(images, torch.randint(0, 3, (16,)), torch.arange(16)), batch_size=4)
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    state = TrainState(recipe, acc, model, acc.unwrap_model(model), optimizer, fold=0)
    ctx = context(num_classes=3)
    before = state.unwrapped.body[1].running_mean.clone()
    weight = state.unwrapped.body[1].weight.detach().clone()
    stats = train_one_epoch(state, loader, build_component(plugins, "losses", recipe.loss, ctx),
                            build_component(plugins, "schedulers", recipe.scheduler, ctx), [], [], lambda n, v: None)
    bn = state.unwrapped.body[1]
    assert torch.equal(bn.running_mean, before) == freeze
    assert not torch.equal(bn.weight, weight)  # the affine parameters learn either way
    assert stats.images == 16 and state.update == 4 and len(state.step_losses) == 4


def test_zero_backbone_lr_trains_the_head_alone(tmp_path: Path) -> None:
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(TINY.format(root=tmp_path))
    recipe = load_recipe(recipe_path, ["train.backbone_lr_mult=0.0"])
    model = Net()
    optimizer = build_optimizer(model, recipe.train, 0.01)
    assert {g["part"] for g in optimizer.param_groups} == {"head"}
    assert not any(p.requires_grad for p in model.body.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
