"""A constant learning rate: the baseline every schedule is compared against."""

from __future__ import annotations

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, NoOptions, StatelessSchedule


class Constant(StatelessSchedule):
    def factor(self, update: int) -> float:
        return 1.0


def build(opts: NoOptions, ctx: BuildContext) -> Constant:
    return Constant()


@hookimpl
def harness_schedulers() -> list[Component]:
    return [Component("constant", build, NoOptions, doc="the base learning rate throughout")]
