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
from harness.specs import Batch
from harness.testing import context
from harness.train.loop import train_one_epoch
from harness.train.nonfinite import arm, skips_on_device
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
    stats = train_one_epoch(state, loader, plugins.loss(recipe.loss, ctx),
                            plugins.scheduler(recipe.scheduler, ctx), [], [], lambda n, v: None)
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


def _epoch(tmp_path: Path, sets: list[str], nan_steps: tuple[int, ...] = (), steps: int = 8,  # type: ignore[no-untyped-def]
           data: type[TensorDataset] = TensorDataset):
    """One epoch of Net on random tensors served by `data`; the loss is NaN at `nan_steps`.
    Returns the state, the stats, the weights after each update and the logged messages."""
    torch.manual_seed(0)
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(TINY.format(root=tmp_path))
    plugins = load_plugins()
    recipe = load_recipe(recipe_path, ["model.channels_last=false", *sets], plugins)
    acc = Accelerator(cpu=True)
    model = Net()
    optimizer = build_optimizer(model, recipe.train, 0.01)
    loader = DataLoader(data(torch.randn(4 * steps, 3, 8, 8), torch.randint(0, 3, (4 * steps,)), torch.arange(4 * steps)),
                        batch_size=4)
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    state = TrainState(recipe, acc, model, acc.unwrap_model(model), optimizer, fold=0)
    ctx = context(num_classes=3)
    ce = plugins.loss(recipe.loss, ctx)
    calls = [0]

    def loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        calls[0] += 1
        value = ce(logits, batch)
        return value * float("nan") if calls[0] - 1 in nan_steps else value

    weights: list[torch.Tensor] = []
    messages: list[str] = []
    stats = train_one_epoch(state, loader, loss, plugins.scheduler(recipe.scheduler, ctx), [], [],
                            lambda n, v: None, lambda step: weights.append(state.unwrapped.head.weight.detach().clone()),
                            messages.append)
    return state, stats, weights, messages


def test_the_step_loop_reads_nothing_back_per_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `.item()`, `.tolist()` or `bool(tensor)` per step: the host reads the device only every
    `train.log_every` steps and at the end of the epoch."""
    reads = [0]
    for name in ("item", "tolist", "__bool__"):
        original = getattr(torch.Tensor, name)

        def counted(self: torch.Tensor, *a: object, _original=original, **k: object) -> object:  # type: ignore[no-untyped-def]
            reads[0] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    _, _, _, _ = _epoch(tmp_path, ["train.log_every=1000"], steps=8)
    per_epoch = reads[0]
    reads[0] = 0
    _, _, _, _ = _epoch(tmp_path, ["train.log_every=1000"], steps=24)
    assert reads[0] == per_epoch, "host reads grew with the number of steps"
    assert per_epoch <= 4


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_a_nan_step_leaves_weights_and_optimizer_untouched(tmp_path: Path, optimizer: str) -> None:
    """Both fused optimizers skip on the device (found_inf): the NaN update changes nothing, is
    counted and logged, and keeps its slot in the schedule."""
    state, stats, weights, messages = _epoch(tmp_path, [f"train.optimizer='{optimizer}'"], nan_steps=(3, 4))
    assert torch.equal(weights[2], weights[3]) and torch.equal(weights[3], weights[4])
    assert not torch.equal(weights[4], weights[5]) and not torch.equal(weights[1], weights[2])
    assert all(torch.isfinite(w).all() for w in weights)
    assert stats.nonfinite == 2 and state.update == 8 and state.nonfinite_steps == 0
    assert [m.split(" (")[0] for m in messages] == ["non-finite loss at fold 0 epoch 1 step 3",
                                                     "non-finite loss at fold 0 epoch 1 step 4"]
    assert all(torch.isfinite(v).all() for s in state.optimizer.state_dict()["state"].values()
               for v in s.values() if torch.is_tensor(v) and v.is_floating_point())
    assert torch.isfinite(torch.tensor(stats.loss))


def test_sgd_skipping_its_first_step_on_the_device_then_steps_as_a_fresh_one(tmp_path: Path) -> None:
    """Fused SGD makes its momentum buffers on its first step; skipped there (found_inf), they would
    be left uninitialised. The harness starts them at zero, which is also what a first step puts
    there: after a skipped first step, the next update is a fresh optimizer's first, to the bit."""
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(TINY.format(root=tmp_path))
    cfg = load_recipe(recipe_path, ["train.optimizer='sgd'", "train.momentum=0.85", "train.weight_decay=0.01"]).train
    torch.manual_seed(0)
    model, fresh = nn.Linear(5, 3), nn.Linear(5, 3)
    fresh.load_state_dict(model.state_dict())
    ours = build_optimizer(model, cfg, 0.1)
    assert skips_on_device(ours)
    assert all(torch.equal(ours.state[p]["momentum_buffer"], torch.zeros_like(p)) for p in model.parameters())
    twin = dict(zip(model.parameters(), fresh.parameters(), strict=True))  # the same groups (decay on the weight only), unfused
    reference = torch.optim.SGD([{"params": [twin[p] for p in g["params"]], "weight_decay": g["weight_decay"],
                                  "lr": g["lr"]} for g in ours.param_groups], lr=0.1, momentum=0.85, nesterov=True)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.full_like(p, float("nan"))
    arm(ours, torch.ones(()), Accelerator(cpu=True))
    ours.step()  # skipped on the device
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    grads = [torch.randn_like(p) for p in model.parameters()]
    for p, q, g in zip(model.parameters(), fresh.parameters(), grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    arm(ours, torch.zeros(()), Accelerator(cpu=True))
    ours.step()
    reference.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True))


class SlowData(TensorDataset):
    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        import time

        time.sleep(0.02)  # 80 ms a batch of 4: far longer than a step of Net
        return super().__getitem__(i)


def test_data_wait_fraction_tells_a_starved_step(tmp_path: Path) -> None:
    """Time blocked on the loader over epoch time: high when loading is the bottleneck."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a step of Net stays short however many test processes share the cores
    try:
        fractions = [_epoch(tmp_path, [], data=cls)[1].data_wait_fraction for cls in (TensorDataset, SlowData)]
    finally:
        torch.set_num_threads(threads)
    assert fractions[1] > 0.8 > 0.5 > fractions[0] >= 0
