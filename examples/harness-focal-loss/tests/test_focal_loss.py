"""Contract tests: the checks harness runs on every loss (`harness.testing.LossContract`), and the
properties of this one. `python -m pytest -q` here, installed or not; harness's CI runs them too."""

from __future__ import annotations

from typing import Any, ClassVar

import harness_focal_loss
import torch
import torch.nn.functional as F

from harness.testing import LossContract


class TestFocal(LossContract):
    name = "focal"
    options: ClassVar[dict[str, Any]] = {"gamma": 2.0}  # recipe keys, as a recipe would set them
    plugins = (harness_focal_loss,)  # this package as it is here, installed or not


class TestFocalSmoothed(TestFocal):
    options: ClassVar[dict[str, Any]] = {"gamma": 1.0, "smoothing": 0.1}


def test_gamma_zero_is_cross_entropy() -> None:
    logits, target = torch.randn(8, 5), torch.arange(8) % 5
    torch.testing.assert_close(harness_focal_loss.focal_loss(logits, target, 0.0), F.cross_entropy(logits, target))


def test_easy_examples_count_less() -> None:
    easy = torch.tensor([[4.0, 0.0, 0.0]])
    ratio = harness_focal_loss.focal_loss(easy, torch.tensor([0]), 2.0) / F.cross_entropy(easy, torch.tensor([0]))
    p = torch.softmax(easy, -1)[0, 0]
    torch.testing.assert_close(ratio, (1 - p) ** 2)
