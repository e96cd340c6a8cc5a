"""Lookahead (Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", 2019) as the
CIFAR-10 speed record trains with it (Jordan, airbench94, 2024): every `every` updates the slow
weights move towards the fast ones, `slow = decay * slow + (1 - decay) * fast`, and the fast
weights are reset to the slow ones. The decay grows over the fold as
`decay_per_update ** every * (update / total) ** power`: nearly no averaging early, strong
averaging at the end. After the fold's last update the model holds the slow weights.

Every floating-point entry of the state dict takes part, BatchNorm statistics included (as in the
record). Unlike `ema`, nothing is kept beside the model: the trained weights are the averaged ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component, FoldState


@dataclass(frozen=True)
class LookaheadOptions:
    every: int = 5  # updates between two syncs of the fast weights to the slow ones
    decay_per_update: float = 0.95  # the slow weights' decay per update at the end of the fold
    power: float = 3.0  # how the decay grows with the fold's progress: (update / total) ** power

    def validate(self, where: str) -> None:
        require(self.every >= 1, f"{where}.every", "must be >= 1")
        require(0.0 <= self.decay_per_update < 1.0, f"{where}.decay_per_update", "must be in [0, 1)")
        require(self.power >= 0.0, f"{where}.power", "must be >= 0")


class Lookahead(Callback):
    def __init__(self, opts: LookaheadOptions, total_updates: int):
        self.opts, self.total = opts, max(1, total_updates)
        self.slow: dict[str, torch.Tensor] = {}

    def on_fold_start(self, state: FoldState) -> None:
        # Before a resume's load_state_dict, which then copies the saved slow weights into these.
        self.slow = {k: v.detach().clone() for k, v in state.unwrapped.state_dict().items() if v.is_floating_point()}

    def decay(self, update: int) -> float:
        """The decay of the sync after `update` updates: 1.0 (the model takes the slow weights
        unchanged) at the fold's last update."""
        if update == self.total:
            return 1.0
        progress = min(update / self.total, 1.0)
        return self.opts.decay_per_update ** self.opts.every * progress ** self.opts.power

    @torch.no_grad()
    def after_optimizer_step(self, state: FoldState) -> None:
        update = state.update
        if update % self.opts.every and update != self.total:
            return
        decay = self.decay(update)
        for name, fast in state.unwrapped.state_dict().items():
            slow = self.slow.get(name)
            if slow is None:
                continue
            slow.lerp_(fast, 1.0 - decay)
            fast.copy_(slow)

    def state_dict(self) -> dict[str, Any]:
        return {"slow": dict(self.slow)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, saved in state.get("slow", {}).items():
            if name in self.slow:
                self.slow[name].copy_(saved)  # onto the model's device
            else:
                self.slow[name] = saved.clone()


def build(opts: LookaheadOptions, ctx: BuildContext) -> Lookahead:
    return Lookahead(opts, ctx.total_steps)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("lookahead", build, LookaheadOptions,
                      doc="slow weights every few updates, averaging more as the fold ends (airbench's)")]
