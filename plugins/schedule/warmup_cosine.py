"""Linear warm-up (Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
2017) followed by cosine annealing (Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with
Warm Restarts", 2017, without restarts), as timm's `CosineLRScheduler` with `warmup_t`.

A pure function of the update index, so resuming is "jump to update N". The factor rises from
`warmup_start_factor` at update 0 to 1.0 at the end of warm-up, then falls to `min_factor` at the
last update of training (total_steps - 1, the last one whose learning rate is used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, StatelessSchedule


@dataclass(frozen=True)
class WarmupCosineOptions:
    warmup_epochs: float = 1.0  # length of the linear warm-up, in epochs (fractions allowed)
    warmup_start_factor: float = 0.01  # the factor at the first update
    min_factor: float = 0.01  # the factor at the last update, where the cosine ends

    def validate(self, where: str) -> None:
        require(self.warmup_epochs >= 0.0, f"{where}.warmup_epochs", "must be >= 0")
        require(0.0 <= self.warmup_start_factor <= 1.0, f"{where}.warmup_start_factor", "must be in [0, 1]")
        require(0.0 <= self.min_factor <= 1.0, f"{where}.min_factor", "must be in [0, 1]")


def warmup_cosine(update: int, warmup: int, total: int, start: float = 0.01, floor: float = 0.01) -> float:
    """The factor at `update` of `total` updates, the first `warmup` of them a linear warm-up."""
    if update < warmup:
        return start + (1.0 - start) * update / warmup
    span = max(1, total - 1 - warmup)
    progress = min(1.0, (update - warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class WarmupCosine(StatelessSchedule):
    warmup: int  # updates
    total: int
    start: float
    floor: float

    @classmethod
    def from_options(cls, opts: WarmupCosineOptions, ctx: BuildContext) -> WarmupCosine:
        warmup = round(opts.warmup_epochs * ctx.steps_per_epoch)
        return cls(warmup, ctx.total_steps, opts.warmup_start_factor, opts.min_factor)

    def factor(self, update: int) -> float:
        return warmup_cosine(update, self.warmup, self.total, self.start, self.floor)


@hookimpl
def harness_schedulers() -> list[Component]:
    return [Component("warmup_cosine", WarmupCosine.from_options, WarmupCosineOptions,
                      doc="linear warm-up, then cosine to min_factor")]
