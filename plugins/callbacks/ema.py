"""Exponential moving average of the weights (Polyak & Juditsky, "Acceleration of Stochastic
Approximation by Averaging", 1992), through timm's `ModelEmaV3`, decay warm-up included.

After every optimizer update `ema = decay * ema + (1 - decay) * weights`, buffers included. With
warm-up the decay grows as `1 - (1 + step) ** -2/3` up to `decay`, so short fine-tuning runs are
not dominated by the starting weights. The core evaluates the EMA next to the raw weights each
epoch, saves the best of each, and predicts with whichever scored better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component, FoldState

if TYPE_CHECKING:  # timm's import costs ~2 s: paid only by a run that keeps an EMA
    from timm.utils import ModelEmaV3


@dataclass(frozen=True)
class EmaOptions:
    decay: float = 0.998  # ema = decay * ema + (1 - decay) * weights after every update
    warmup: bool = True  # timm's decay warm-up: 1 - (1 + step) ** -2/3, capped at `decay`

    def validate(self, where: str) -> None:
        require(0.0 <= self.decay < 1.0, f"{where}.decay", f"must be in [0, 1), got {self.decay}")


class EmaCallback(Callback):
    """Keeps `ModelEmaV3` of the bare (unwrapped) model on the same device."""

    def __init__(self, decay: float = 0.998, warmup: bool = True):
        self.decay, self.warmup = decay, warmup
        self.ema: ModelEmaV3 | None = None
        self._pending: dict[str, Any] | None = None  # a resumed state that arrived before the model

    def on_fold_start(self, state: FoldState) -> None:
        # Built from the prepared model, so the copy sits on the device and in the model's dtype.
        from timm.utils import ModelEmaV3

        self.ema = ModelEmaV3(state.unwrapped, decay=self.decay, use_warmup=self.warmup)
        if self._pending is not None:
            self.ema.module.load_state_dict(self._pending)
            self._pending = None

    def after_optimizer_step(self, state: FoldState) -> None:
        assert self.ema is not None, "on_fold_start must run first"
        self.ema.update(state.unwrapped, step=state.update)

    def eval_models(self, state: FoldState) -> dict[str, nn.Module]:
        return {} if self.ema is None else {"ema": self.ema.module}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.ema is None else {"module": self.ema.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "module" not in state:
            return
        if self.ema is None:
            self._pending = state["module"]
        else:
            self.ema.module.load_state_dict(state["module"])


def build(opts: EmaOptions, ctx: BuildContext) -> EmaCallback:
    return EmaCallback(opts.decay, opts.warmup)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("ema", build, EmaOptions,
                      doc="exponential moving average of the weights, evaluated and kept as a candidate")]
