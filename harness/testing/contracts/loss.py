"""The contract every loss passes (`harness.testing.LossContract`)."""

from __future__ import annotations

import torch
from torch import nn

from harness.testing.contracts.base import Contract, probabilities


class LossContract(Contract):
    """Losses are called as `loss(logits, batch)`: logits (N, C) in the autocast dtype, the target
    int64 (N,) or float (N, C); a finite scalar that a hard target and its one-hot give alike. A soft
    target q gives the expectation over classes, sum_c q_c * loss(logits, c) (what CutMix and Mixup
    rely on: a loss that takes q's argmax fails), and the gradient reaching the logits is the loss's
    true slope, for hard and soft targets (a term computed on detached logits fails)."""

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
        """Every row's target is one distribution q: the loss is sum_c q_c * (the loss of class c)."""
        loss, c = self.build(), self.num_classes
        logits = torch.randn(8, c, generator=torch.Generator().manual_seed(0))
        q = probabilities(1, c, seed=5)[0]
        value = loss(logits, self.batch(q.expand(8, c).clone()))
        assert value.ndim == 0 and torch.isfinite(value)
        expected = sum(q[k] * loss(logits, self.batch(torch.full((8,), k))) for k in range(c))
        torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-5, msg=lambda m: (
            f"a soft target q must give sum_c q_c * loss(logits, c), the expectation over classes "
            f"(CutMix and Mixup targets): {m}"))

    def test_low_precision_logits(self) -> None:
        logits = torch.randn(8, self.num_classes).bfloat16()
        value = self.build()(logits, self.batch(torch.arange(8) % self.num_classes))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_gradient_flows(self) -> None:
        """autograd's slope along three random directions equals central differences of the loss."""
        loss, c = self.build(), self.num_classes
        g = torch.Generator().manual_seed(0)
        for target in (torch.arange(8) % c, probabilities(8, c, seed=4)):
            batch = self.batch(target)
            logits = torch.randn(8, c, generator=g, dtype=torch.float64, requires_grad=True)
            loss(logits, batch).backward()
            assert logits.grad is not None and torch.isfinite(logits.grad).all(), "no finite gradient reaches the logits"
            h = 1e-2
            with torch.no_grad():
                for _ in range(3):
                    v = torch.randn(8, c, generator=g, dtype=torch.float64)
                    slope = float((loss(logits + h * v, batch) - loss(logits - h * v, batch)) / (2 * h))
                    got = float((logits.grad * v).sum())
                    assert abs(got - slope) <= 1e-3 + 2e-2 * abs(slope), (
                        f"the gradient reaching the logits gives slope {got:.5f} along a direction where the loss "
                        f"changes at {slope:.5f}: a term of the loss does not pass its gradient (detached, .item(), numpy?)")
