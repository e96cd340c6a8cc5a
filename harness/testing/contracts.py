"""Contract test classes: subclass one, set `name` (and `options`), and pytest runs the checks
every component of that kind must pass, built through the real plugin manager."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from harness.config.typed import from_dict
from harness.plugin_manager import load_plugins
from harness.specs import Batch, BuildContext


def context(num_classes: int = 4, n: int = 64, **overrides: Any) -> BuildContext:
    """A BuildContext for a small fold: `n` samples spread over `num_classes` classes."""
    labels = np.arange(n) % num_classes
    values: dict[str, Any] = dict(
        num_classes=num_classes, labels=labels, seed=0, epochs=4, steps_per_epoch=10, batch_size=8,
        world_size=1, base_lr=1e-3, image_size=16,
    )
    values.update(overrides)
    return BuildContext(**values)


class _Contract:
    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}

    def build(self, ctx: BuildContext | None = None) -> Any:
        component = load_plugins().get(self.kind, self.name)
        return component.build(from_dict(component.options, self.options, self.name), ctx or context())


def batch(target: torch.Tensor, **extras: torch.Tensor) -> Batch:
    """A training batch around `target` (images are zeros; indices 0..N-1)."""
    n = len(target)
    return Batch(torch.zeros(n, 3, 8, 8), target, torch.arange(n), dict(extras))


class LossContract(_Contract):
    """Losses are called as `loss(logits, batch)`."""

    kind = "losses"

    def test_scalar_and_finite(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        value = loss(torch.randn(8, 4), batch(torch.randint(0, 4, (8,))))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_hard_equals_one_hot(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        logits, target = torch.randn(8, 4), torch.randint(0, 4, (8,))
        soft = torch.nn.functional.one_hot(target, 4).float()
        torch.testing.assert_close(loss(logits, batch(target)), loss(logits, batch(soft)), rtol=1e-5, atol=1e-6)

    def test_gradient_flows(self) -> None:
        logits = torch.randn(8, 4, requires_grad=True)
        self.build()(logits, batch(torch.randint(0, 4, (8,)))).backward()
        assert logits.grad is not None and torch.isfinite(logits.grad).all()


class SamplerContract(_Contract):
    kind = "samplers"

    def test_indices_in_range_and_deterministic(self) -> None:
        ctx = context()
        a, b = self.build(ctx), self.build(ctx)
        a.set_epoch(3)
        b.set_epoch(3)
        draw = list(a)
        assert draw == list(b)
        assert all(0 <= i < len(ctx.labels) for i in draw)
        assert len(draw) == len(a)


class ScheduleContract(_Contract):
    kind = "schedulers"

    def test_factors_finite_and_state_round_trips(self) -> None:
        ctx = context()
        sched = self.build(ctx)
        factors = [sched.factor(u) for u in range(ctx.total_steps + 1)]
        assert all(np.isfinite(f) and f >= 0 for f in factors)
        sched.on_epoch_end(0.5)
        again = self.build(ctx)
        again.load_state_dict(sched.state_dict())
        assert [again.factor(u) for u in range(ctx.total_steps)] == [sched.factor(u) for u in range(ctx.total_steps)]


class CallbackContract(_Contract):
    kind = "callbacks"

    def test_state_round_trips(self) -> None:
        cb = self.build()
        again = self.build()
        again.load_state_dict(cb.state_dict())
        assert again.state_dict().keys() == cb.state_dict().keys()
