"""The contract every loss passes (`harness.testing.LossContract`)."""

from __future__ import annotations

import torch
from torch import nn

from harness.testing.contracts.base import Contract, probabilities


class LossContract(Contract):
    """Losses are called as `loss(logits, batch)`: logits (N, C) in the autocast dtype, the target
    int64 (N,) or float (N, C); a finite scalar that a hard target and its one-hot give alike."""

    kind = "losses"

    def test_scalar_and_finite(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        value = loss(torch.randn(8, self.num_classes), self.batch(torch.randint(0, self.num_classes, (8,))))
        assert value.ndim == 0 and value.is_floating_point() and torch.isfinite(value)

    def test_hard_equals_one_hot(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        logits, target = torch.randn(8, self.num_classes), torch.randint(0, self.num_classes, (8,))
        soft = nn.functional.one_hot(target, self.num_classes).float()
        torch.testing.assert_close(loss(logits, self.batch(target)), loss(logits, self.batch(soft)), rtol=1e-5, atol=1e-6)

    def test_soft_targets(self) -> None:
        value = self.build()(torch.randn(8, self.num_classes), self.batch(probabilities(8, self.num_classes)))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_low_precision_logits(self) -> None:
        logits = torch.randn(8, self.num_classes).bfloat16()
        value = self.build()(logits, self.batch(torch.arange(8) % self.num_classes))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_gradient_flows(self) -> None:
        logits = torch.randn(8, self.num_classes, requires_grad=True)
        self.build()(logits, self.batch(torch.randint(0, self.num_classes, (8,)))).backward()
        assert logits.grad is not None and torch.isfinite(logits.grad).all()
