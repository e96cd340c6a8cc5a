"""Contract tests: the checks harness runs on every loss (`harness.testing.LossContract`),
and a property of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

import harness_kaggle_kit.poly1
import torch

from harness.testing import LossContract


class TestPoly1(LossContract):
    name = "poly1"
    options: ClassVar[dict[str, Any]] = {}  # recipe keys, as a recipe would set them
    plugins = (harness_kaggle_kit.poly1,)  # the module on disk: the tests run before `pip install -e .` too


def test_epsilon_zero_is_cross_entropy() -> None:
    logits, target = torch.randn(8, 5), torch.arange(8) % 5
    plain = torch.nn.functional.cross_entropy(logits, target)
    torch.testing.assert_close(harness_kaggle_kit.poly1.poly1(logits, target, 0.0), plain)


class TestPoly1Epsilon2(TestPoly1):
    options: ClassVar[dict[str, Any]] = {"epsilon": 2.0}


def test_epsilon_weighs_one_minus_pt() -> None:
    logits, target = torch.randn(8, 5), torch.arange(8) % 5
    pt = torch.softmax(logits, -1)[torch.arange(8), target]
    extra = harness_kaggle_kit.poly1.poly1(logits, target, 2.0) - harness_kaggle_kit.poly1.poly1(logits, target, 0.0)
    torch.testing.assert_close(extra, 2.0 * (1 - pt).mean())
