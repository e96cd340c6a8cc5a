"""EMA of the weights: a constant model's EMA is that model, one update is the convex mix
d * old + (1 - d) * new, buffers follow, and the state survives a resume."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness_plugins.callbacks.ema import EmaCallback, EmaOptions


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def fold_state(model: nn.Module) -> SimpleNamespace:
    return SimpleNamespace(unwrapped=model, update=0)


def tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def perturb(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.add_(torch.randn(v.shape, generator=g))
            else:
                v.add_(1)


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_of_a_constant_model_is_that_model(warmup: bool) -> None:
    model = tiny_model()
    state, ema = fold_state(model), EmaCallback(decay=0.9, warmup=warmup)
    ema.on_fold_start(state)
    for step in range(1, 21):
        state.update = step
        ema.after_optimizer_step(state)
    averaged = ema.eval_models(state)["ema"]
    assert averaged is not model
    for key, value in model.state_dict().items():
        assert torch.allclose(averaged.state_dict()[key], value), key


def test_one_update_mixes_old_and_new_weights() -> None:
    d = 0.9
    model = tiny_model()
    state, ema = fold_state(model), EmaCallback(decay=d, warmup=False)
    ema.on_fold_start(state)
    old = tensors(model)
    perturb(model, seed=1)
    new = tensors(model)
    state.update = 2  # timm copies the weights on the very first update (step 1); later ones mix
    ema.after_optimizer_step(state)
    got = ema.eval_models(state)["ema"].state_dict()
    for key in old:
        if old[key].is_floating_point():
            assert torch.allclose(got[key], d * old[key] + (1 - d) * new[key], atol=1e-6), key
        else:  # integer buffers such as BatchNorm's num_batches_tracked are copied
            assert torch.equal(got[key], new[key]), key


def test_the_first_update_copies_the_weights() -> None:
    model = tiny_model()
    state, ema = fold_state(model), EmaCallback(decay=0.9, warmup=False)
    ema.on_fold_start(state)
    perturb(model, seed=2)
    state.update = 1
    ema.after_optimizer_step(state)
    for key, value in model.state_dict().items():
        assert torch.allclose(ema.eval_models(state)["ema"].state_dict()[key], value), key


def test_warmup_decay_grows_towards_the_configured_decay() -> None:
    state, ema = fold_state(tiny_model()), EmaCallback(decay=0.998, warmup=True)
    ema.on_fold_start(state)
    assert ema.ema is not None
    decays = [ema.ema.get_decay(step) for step in (2, 10, 100, 10**6)]
    assert decays == sorted(decays) and decays[0] < 0.5 and decays[-1] == 0.998


def test_state_dict_round_trip_before_the_fold_starts() -> None:
    model = tiny_model()
    state, ema = fold_state(model), EmaCallback(decay=0.5, warmup=False)
    ema.on_fold_start(state)
    perturb(model, seed=3)
    state.update = 5
    ema.after_optimizer_step(state)
    saved = ema.state_dict()

    resumed = EmaCallback(decay=0.5, warmup=False)
    assert resumed.eval_models(state) == {} and resumed.state_dict() == {}
    resumed.load_state_dict(saved)  # the core may restore before on_fold_start has a model
    resumed.on_fold_start(fold_state(tiny_model()))
    for key, value in saved["module"].items():
        assert torch.equal(resumed.eval_models(state)["ema"].state_dict()[key], value), key


@pytest.mark.parametrize("raw", [{"decay": 1.0}, {"decay": -0.1}, {"warmup": 1}])
def test_bad_options_are_rejected(raw: dict) -> None:
    with pytest.raises(HarnessError):
        from_dict(EmaOptions, raw, "callbacks.ema")
