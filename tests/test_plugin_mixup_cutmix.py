"""Properties of the Mixup/CutMix batch transform."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import Batch, BuildContext
from harness_plugins.augment.mixup_cutmix import MixupCutmix, MixupCutmixOptions, sample_beta
from harness_plugins.loss.cross_entropy import SmoothedCrossEntropy, smooth

C, H, W = 10, 12, 16


def ctx(epochs: int = 4, seed: int = 0) -> BuildContext:
    return BuildContext(num_classes=C, labels=np.arange(20) % C, seed=seed, epochs=epochs, steps_per_epoch=5,
                        batch_size=8, world_size=1, base_lr=1e-3, image_size=H)


class OnTensors:
    """The transform called on (images, target, epoch), giving (images, target) back."""

    def __init__(self, transform: MixupCutmix):
        self.transform = transform

    def __call__(self, images: torch.Tensor, target: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.transform(Batch(images, target, torch.arange(len(images))), epoch)
        return out.images, out.target

    def state_dict(self) -> dict[str, object]:
        return self.transform.state_dict()

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.transform.load_state_dict(state)


def make(epochs: int = 4, seed: int = 0, **options: object) -> OnTensors:
    opts = from_dict(MixupCutmixOptions, options, "batch_transforms.mixup_cutmix")
    return OnTensors(MixupCutmix.from_options(opts, ctx(epochs, seed)))


def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is the constant i + 1, label i: every pixel tells whose image it came from."""
    images = (torch.arange(n, dtype=torch.float32) + 1).view(n, 1, 1, 1).expand(n, 3, H, W).contiguous()
    return images, torch.arange(n) % C


def test_built_through_the_plugin_manager() -> None:
    component = load_plugins().get("batch_transforms", "mixup_cutmix")
    transform = OnTensors(component.build(component.options(), ctx()))
    images, target = batch(4)
    out, soft = transform(images, target, 0)
    assert out.shape == images.shape and soft.shape == (4, C) and soft.dtype == torch.float32


@pytest.mark.parametrize("minmax", [(), (0.2, 0.8)])
def test_cutmix_weight_equals_pasted_area(minmax: tuple[float, ...]) -> None:
    transform = make(mixup_alpha=0.0, cutmix_alpha=1.0, cutmix_minmax=list(minmax))
    images, target = batch(6)
    areas = set()
    for _ in range(40):  # boxes centred near an edge get clipped: the weight must follow
        out, soft = transform(images, target, 0)
        pasted = (out != images)[:, 0].float().mean(dim=(1, 2))  # fraction of pixels from the partner
        assert torch.all(out[0] == torch.where(out[0] != images[0], images[5], images[0]))
        own = soft[torch.arange(6), target]
        other = soft[torch.arange(6), target.flip(0)]
        torch.testing.assert_close(own, 1.0 - pasted)
        torch.testing.assert_close(other, pasted)
        areas.add(round(float(pasted[0]), 6))
    assert len(areas) > 5


def test_mixup_blends_images_and_targets_alike() -> None:
    transform = make(mixup_alpha=0.8, cutmix_alpha=0.0)
    images, target = batch(5)
    out, soft = transform(images, target, 0)
    torch.testing.assert_close(soft.sum(1), torch.ones(5))
    lam = soft[0, 0]
    torch.testing.assert_close(out[0], lam * images[0] + (1 - lam) * images[4])
    torch.testing.assert_close(soft[2], F.one_hot(target[2], C).float())  # the middle pairs with itself
    torch.testing.assert_close(out[2], images[2])


@pytest.mark.parametrize("n", [1, 3, 7])
@pytest.mark.parametrize("options", [{"cutmix_alpha": 0.0}, {"mixup_alpha": 0.0}, {}])
def test_odd_batch_sizes(n: int, options: dict[str, Any]) -> None:
    transform = make(**options)
    images, target = batch(n)
    for _ in range(5):
        out, soft = transform(images, target, 0)
        assert out.shape == images.shape and soft.shape == (n, C)
        torch.testing.assert_close(soft.sum(1), torch.ones(n))
        torch.testing.assert_close(out[n // 2], images[n // 2])


def test_off_for_the_last_epochs_still_gives_one_hot() -> None:
    transform = make(epochs=5, off_last_epochs=2)
    images, target = batch(4)
    for epoch in (3, 4):
        out, soft = transform(images, target, epoch)
        assert torch.equal(out, images)
        assert torch.equal(soft, F.one_hot(target, C).float())
    out, _ = transform(images, target, 2)
    assert not torch.equal(out, images)


def test_prob_zero_gives_one_hot_and_soft_targets_pass_through() -> None:
    images, target = batch(4)
    _, soft = make(prob=0.0)(images, target, 0)
    assert torch.equal(soft, F.one_hot(target, C).float())
    given = torch.softmax(torch.randn(4, C, generator=torch.Generator().manual_seed(0)), 1)
    _, mixed = make(cutmix_alpha=0.0)(images, given, 0)
    torch.testing.assert_close(mixed.sum(1), torch.ones(4))


def test_smoothing_happens_once_in_the_loss() -> None:
    s, transform = 0.1, make(cutmix_alpha=0.0)
    images, target = batch(6)
    _, mixed = transform(images, target, 0)
    lam = float(mixed[0, target[0]])
    logits = torch.randn(6, C, generator=torch.Generator().manual_seed(1))
    expected = lam * smooth(target, C, s) + (1 - lam) * smooth(target.flip(0), C, s)
    reference = torch.sum(-expected * F.log_softmax(logits, -1), -1).mean()
    torch.testing.assert_close(SmoothedCrossEntropy(C, s)(logits, mixed), reference)


def test_state_round_trip_replays_exactly() -> None:
    images, target = batch(6)
    first = make(seed=3)
    first(images, target, 0)
    state = first.state_dict()
    expected = [first(images, target, 0) for _ in range(3)]
    resumed = make(seed=99)
    resumed.load_state_dict(state)
    for out, soft in expected:
        out2, soft2 = resumed(images, target, 0)
        assert torch.equal(out, out2) and torch.equal(soft, soft2)


@pytest.mark.parametrize("alpha", [0.4, 2.0])
def test_beta_draws_have_the_right_moments(alpha: float) -> None:
    g = torch.Generator().manual_seed(0)
    draws = np.array([sample_beta(alpha, g) for _ in range(2000)])
    assert abs(draws.mean() - 0.5) < 0.03
    assert abs(draws.var() - 1 / (4 * (2 * alpha + 1))) < 0.01


@pytest.mark.parametrize("bad", [{"cutmix_minmax": [0.3]}, {"mixup_alpha": 0.0, "cutmix_alpha": 0.0},
                                 {"prob": 1.5}, {"off_last_epochs": -1}])
def test_invalid_options_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(HarnessError):
        from_dict(MixupCutmixOptions, bad, "batch_transforms.mixup_cutmix")


def test_float_extras_mix_with_the_targets_and_indices_stay() -> None:
    """A teacher's soft labels in `batch.extras` get the same lambda (and CutMix box area) as the
    targets; integer extras and the sample indices are left alone."""
    for options in ({"cutmix_alpha": 0.0}, {"mixup_alpha": 0.0}):
        images, target = batch(6)
        teacher = torch.softmax(torch.randn(6, C, generator=torch.Generator().manual_seed(2)), 1)
        tags = torch.arange(6) * 10
        index = torch.arange(6) + 100
        out = make(**options).transform(Batch(images, target, index, {"teacher_probs": teacher, "tags": tags}), 0)
        lam = float(out.target[0, target[0]])  # label 0 and its partner's label differ
        torch.testing.assert_close(out.extras["teacher_probs"], lam * teacher + (1 - lam) * teacher.flip(0))
        assert torch.equal(out.extras["tags"], tags) and torch.equal(out.index, index)
