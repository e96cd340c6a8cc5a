"""The `scheduler` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Exponential decay, smooth over updates: the factor is gamma ** (update /
steps_per_epoch), so the learning rate falls by `gamma` every epoch. A pure function of the update
index, so resuming is "jump to update N" and there is no state to save.

    [scheduler]
    name = "__NAME__"
    gamma = 0.9
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, StatelessSchedule


@dataclass(frozen=True)
class __CLASS__Options:
    gamma: float = 0.9  # the factor by which the learning rate falls each epoch

    def validate(self, where: str) -> None:
        require(0.0 < self.gamma <= 1.0, f"{where}.gamma", "must be in (0, 1]")


class __CLASS__(StatelessSchedule):
    def __init__(self, gamma: float, steps_per_epoch: int):
        self.gamma, self.steps = gamma, max(1, steps_per_epoch)

    def factor(self, update: int) -> float:
        return float(self.gamma ** (update / self.steps))


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts.gamma, ctx.steps_per_epoch)


@hookimpl
def harness_schedulers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: exponential decay by gamma per epoch")]
'''

TEST = '''

def test_one_epoch_is_one_gamma() -> None:
    s = __MODULE__.__CLASS__(0.5, steps_per_epoch=10)
    assert s.factor(0) == 1.0 and abs(s.factor(10) - 0.5) < 1e-12
'''

TEMPLATE = Template("scheduler", MODULE, TEST, "", "exponential decay")
