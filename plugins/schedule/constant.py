"""A constant learning rate: the baseline every schedule is compared against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, NoOptions


@dataclass
class Constant:
    def factor(self, update: int) -> float:
        return 1.0

    def on_epoch_end(self, metric: float) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def build(opts: NoOptions, ctx: BuildContext) -> Constant:
    return Constant()


@hookimpl
def harness_schedulers() -> list[Component]:
    return [Component("constant", build, NoOptions, doc="the base learning rate throughout")]
