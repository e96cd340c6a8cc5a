"""The `callback` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to Wider Optima
and Better Generalization", UAI 2018): from epoch `start_epoch` on, the weights at the end of each
epoch are averaged; the average is evaluated next to the raw weights as the candidate "swa", and the
core keeps and predicts with whichever scores best. (BatchNorm statistics are averaged as buffers,
not recomputed.)

    [callbacks.__NAME__]
    start_epoch = 5
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component


@dataclass(frozen=True)
class __CLASS__Options:
    start_epoch: int = 0  # the first epoch (0-based) whose end-of-epoch weights join the average

    def validate(self, where: str) -> None:
        require(self.start_epoch >= 0, f"{where}.start_epoch", "must be >= 0")


class __CLASS__(Callback):
    def __init__(self, start_epoch: int):
        self.start_epoch = start_epoch
        self.average: nn.Module | None = None
        self.count = 0

    def on_fold_start(self, state: Any) -> None:
        # A copy of the bare model, on its device; the same module all fold (eval_models' rule).
        self.average = copy.deepcopy(state.unwrapped).eval()
        self.count = 0

    def on_epoch_end(self, state: Any) -> None:
        if state.epoch < self.start_epoch or self.average is None:
            return
        self.count += 1
        with torch.no_grad():
            for avg, new in zip(self.average.state_dict().values(), state.unwrapped.state_dict().values(), strict=True):
                if avg.is_floating_point():
                    avg.add_((new - avg) / self.count)  # running mean of the snapshots
                else:
                    avg.copy_(new)

    def eval_models(self, state: Any) -> dict[str, nn.Module]:
        return {} if self.average is None or self.count == 0 else {"swa": self.average}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.average is None else {"count": self.count, "average": self.average.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and self.average is not None:  # the core starts the fold, then restores
            self.count = int(state["count"])
            self.average.load_state_dict(state["average"])


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts.start_epoch)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: stochastic weight averaging, evaluated as 'swa'")]
'''

TEST = '''

def test_average_of_two_snapshots() -> None:
    from harness.testing import train_state

    state = train_state()
    cb = __MODULE__.__CLASS__(start_epoch=0)
    cb.on_fold_start(state)
    first = state.unwrapped.weight.detach().clone()
    cb.on_epoch_end(state)
    with torch.no_grad():
        state.unwrapped.weight.add_(1.0)
    cb.on_epoch_end(state)
    torch.testing.assert_close(cb.eval_models(state)["swa"].weight, first + 0.5)
'''

TEMPLATE = Template("callback", MODULE, TEST, "import torch", "stochastic weight averaging (Izmailov et al. 2018)")
