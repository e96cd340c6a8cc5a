"""Properties of the binary cross-entropy loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.loss import BinaryCrossEntropy as TimmBCE

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import Batch, BuildContext
from harness_plugins.loss.binary_cross_entropy import BinaryCrossEntropy, BinaryCrossEntropyOptions

C = 5


def data(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, C, generator=g), torch.randint(0, C, (n,), generator=g)


def test_built_through_the_plugin_manager() -> None:
    component = load_plugins().get("losses", "binary_cross_entropy")
    ctx = BuildContext(num_classes=C, labels=np.arange(10) % C, seed=0, epochs=1, steps_per_epoch=1,
                       batch_size=4, world_size=1, base_lr=1e-3, image_size=32)
    loss = component.build(from_dict(component.options, {"smoothing": 0.1}, "loss"), ctx)
    logits, target = data()
    assert torch.isfinite(loss(logits, Batch(torch.zeros(len(target), 3, 4, 4), target, torch.arange(len(target)))))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("threshold", [None, 0.2])
def test_hard_targets_equal_one_hot(smoothing: float, threshold: float | None) -> None:
    logits, target = data()
    loss = BinaryCrossEntropy(C, smoothing, threshold)
    torch.testing.assert_close(loss(logits, target), loss(logits, F.one_hot(target, C).float()))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_hard_targets_match_timm(smoothing: float) -> None:
    logits, target = data()
    expected = TimmBCE(smoothing=smoothing)(logits, target)
    torch.testing.assert_close(BinaryCrossEntropy(C, smoothing)(logits, target), expected)


def test_no_smoothing_is_plain_bce() -> None:
    logits, target = data()
    expected = F.binary_cross_entropy_with_logits(logits, F.one_hot(target, C).float())
    torch.testing.assert_close(BinaryCrossEntropy(C)(logits, target), expected)


def test_smoothing_a_mix_equals_mixing_smoothed_targets() -> None:
    logits, target = data()
    s, lam = 0.1, 0.7
    y1, y2 = F.one_hot(target, C).float(), F.one_hot(target.flip(0), C).float()
    mixed = lam * y1 + (1 - lam) * y2
    smoothed = lam * (y1 * (1 - s) + s / C) + (1 - lam) * (y2 * (1 - s) + s / C)
    expected = F.binary_cross_entropy_with_logits(logits, smoothed)
    torch.testing.assert_close(BinaryCrossEntropy(C, s)(logits, mixed), expected)


def test_threshold_binarizes_mixed_targets() -> None:
    logits, target = data()
    y1, y2 = F.one_hot(target, C).float(), F.one_hot((target + 1) % C, C).float()
    loss = BinaryCrossEntropy(C, target_threshold=0.5)
    torch.testing.assert_close(loss(logits, 0.6 * y1 + 0.4 * y2), loss(logits, target))


def test_sum_classes_is_mean_times_classes() -> None:
    logits, target = data()
    torch.testing.assert_close(BinaryCrossEntropy(C, sum_classes=True)(logits, target),
                               C * BinaryCrossEntropy(C)(logits, target))


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(HarnessError):
        from_dict(BinaryCrossEntropyOptions, {"smoothing": 1.0}, "loss")
