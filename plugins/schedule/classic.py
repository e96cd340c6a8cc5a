"""The classic schedules, as in `torch.optim.lr_scheduler`:

- "step": multiply by `gamma` every `step_epochs` epochs (He et al., "Deep Residual Learning", 2016);
- "plateau": multiply by `factor` when the validation metric has not improved for more than
  `patience` epochs (torch's `ReduceLROnPlateau`, with an absolute `threshold`);
- "one_cycle": cosine rise from 1/div_factor to 1 over `pct_start` of training, then cosine fall to
  1/(div_factor * final_div_factor) (Smith and Topin, "Super-Convergence", 2018; torch's `OneCycleLR`);
  `anneal = "linear"` makes both phases straight lines (torch's `anneal_strategy="linear"`: the
  triangle of the CIFAR-10 speed records).

"step" and "one_cycle" are pure functions of the update index; "plateau" keeps its state in
`state_dict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, StatelessSchedule


@dataclass(frozen=True)
class StepOptions:
    step_epochs: int = 30  # epochs between two decays
    gamma: float = 0.1  # the factor applied at every decay

    def validate(self, where: str) -> None:
        require(self.step_epochs >= 1, f"{where}.step_epochs", "must be >= 1")
        require(0.0 < self.gamma <= 1.0, f"{where}.gamma", "must be in (0, 1]")


@dataclass
class StepDecay(StatelessSchedule):
    every: int  # updates
    gamma: float

    @classmethod
    def from_options(cls, opts: StepOptions, ctx: BuildContext) -> StepDecay:
        return cls(opts.step_epochs * ctx.steps_per_epoch, opts.gamma)

    def factor(self, update: int) -> float:
        return self.gamma ** (update // self.every)


@dataclass(frozen=True)
class PlateauOptions:
    mode: Literal["auto", "max", "min"] = "auto"  # auto: follows cv.metric (max for accuracy, min for log_loss)
    factor: float = 0.1  # the learning rate is multiplied by this at each reduction
    patience: int = 2  # epochs without improvement that are tolerated
    threshold: float = 1e-4  # an improvement must beat the best by more than this
    min_factor: float = 0.0  # the learning rate never falls below base lr times this

    def validate(self, where: str) -> None:
        require(0.0 < self.factor < 1.0, f"{where}.factor", "must be in (0, 1)")
        require(self.patience >= 0, f"{where}.patience", "must be >= 0")
        require(self.threshold >= 0.0, f"{where}.threshold", "must be >= 0")
        require(0.0 <= self.min_factor <= 1.0, f"{where}.min_factor", "must be in [0, 1]")


class ReduceOnPlateau:
    def __init__(self, opts: PlateauOptions, higher_is_better: bool = True):
        self.opts = opts
        self.maximize = opts.mode == "max" or (opts.mode == "auto" and higher_is_better)
        self.scale = 1.0
        self.best: float | None = None
        self.bad_epochs = 0  # epochs since the last improvement

    @classmethod
    def from_options(cls, opts: PlateauOptions, ctx: BuildContext) -> ReduceOnPlateau:
        return cls(opts, ctx.higher_is_better)

    def improved(self, metric: float) -> bool:
        if self.best is None:
            return not math.isnan(metric)
        gain = metric - self.best if self.maximize else self.best - metric
        return gain > self.opts.threshold

    def factor(self, update: int) -> float:
        return self.scale

    def on_epoch_end(self, metric: float) -> None:
        if self.improved(metric):
            self.best, self.bad_epochs = metric, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.opts.patience:
            self.scale = max(self.scale * self.opts.factor, self.opts.min_factor)
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.best, self.bad_epochs = state["scale"], state["best"], state["bad_epochs"]


@dataclass(frozen=True)
class OneCycleOptions:
    pct_start: float = 0.3  # share of training spent rising to the peak
    div_factor: float = 25.0  # the start is the peak / div_factor
    final_div_factor: float = 1e4  # the end is the start / final_div_factor
    anneal: Literal["cos", "linear"] = "cos"  # the shape of both phases (torch's anneal_strategy)

    def validate(self, where: str) -> None:
        require(0.0 < self.pct_start < 1.0, f"{where}.pct_start", "must be in (0, 1)")
        require(self.div_factor >= 1.0, f"{where}.div_factor", "must be >= 1")
        require(self.final_div_factor >= 1.0, f"{where}.final_div_factor", "must be >= 1")


def cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)


def linear_anneal(start: float, end: float, pct: float) -> float:
    return start + (end - start) * pct


def one_cycle(
    update: int, total: int, pct_start: float = 0.3, div: float = 25.0, final_div: float = 1e4, anneal: str = "cos"
) -> float:
    """torch's `OneCycleLR` factor (two phases, cosine or linear) at `update` of `total` updates."""
    shape = cos_anneal if anneal == "cos" else linear_anneal
    low, peak = 1.0 / div, float(pct_start * total) - 1.0
    end = total - 1.0
    if update <= peak:
        return shape(low, 1.0, update / peak if peak > 0 else 1.0)
    span = end - peak
    return shape(1.0, low / final_div, min(1.0, (update - peak) / span) if span > 0 else 1.0)


@dataclass
class OneCycle(StatelessSchedule):
    total: int
    opts: OneCycleOptions

    @classmethod
    def from_options(cls, opts: OneCycleOptions, ctx: BuildContext) -> OneCycle:
        return cls(ctx.total_steps, opts)

    def factor(self, update: int) -> float:
        o = self.opts
        return one_cycle(update, self.total, o.pct_start, o.div_factor, o.final_div_factor, o.anneal)


@hookimpl
def harness_schedulers() -> list[Component]:
    return [
        Component("step", StepDecay.from_options, StepOptions, doc="gamma every step_epochs epochs"),
        Component("plateau", ReduceOnPlateau.from_options, PlateauOptions,
                  doc="reduce when the validation metric stalls"),
        Component("one_cycle", OneCycle.from_options, OneCycleOptions, doc="one-cycle, cosine or linear (Smith)"),
    ]
