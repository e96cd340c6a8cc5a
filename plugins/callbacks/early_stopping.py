"""Early stopping (Prechelt, "Early Stopping - But When?", 1998; the `patience` rule of Keras'
`EarlyStopping` callback): stop a fold once the validation score has not improved by more than
`min_delta` for `patience` epochs in a row.

The monitored value is the best of this epoch's raw score and every candidate's score (such as
the EMA's), since the core keeps whichever weights scored best.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.config.typed import require
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component, FoldState, MetricSpec


@dataclass(frozen=True)
class EarlyStoppingOptions:
    patience: int = 3  # epochs without improvement before the fold stops
    min_delta: float = 0.0  # an improvement must beat the best score by more than this

    def validate(self, where: str) -> None:
        require(self.patience >= 1, f"{where}.patience", f"must be >= 1, got {self.patience}")
        require(self.min_delta >= 0.0, f"{where}.min_delta", f"must be >= 0, got {self.min_delta}")


class Patience:
    """Counts epochs without an improvement larger than `min_delta` over the best so far."""

    def __init__(self, patience: int, metric: MetricSpec, min_delta: float = 0.0):
        self.patience, self.metric, self.min_delta = patience, metric, min_delta
        self.best: float | None = None
        self.bad_epochs = 0

    def improved(self, value: float) -> bool:
        return self.metric.better(value, self.best, self.min_delta)

    def step(self, value: float) -> bool:
        """Record one epoch's value; True when training should stop."""
        if self.improved(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def monitored(metrics: Mapping[str, Any], metric: MetricSpec) -> float:
    """The best of `val_score` and every `val_score_*` (one per extra candidate such as EMA)."""
    values = [float(v) for k, v in metrics.items() if k == "val_score" or k.startswith("val_score_")]
    if not values:
        raise KeyError("early_stopping needs state.metrics['val_score']")
    return metric.best(values)


class EarlyStopping(Callback):
    def __init__(self, metric: MetricSpec, patience: int = 3, min_delta: float = 0.0):
        self.metric, self.patience, self.min_delta = metric, patience, min_delta
        self.counter: Patience | None = None
        self._pending: dict[str, Any] | None = None

    def on_fold_start(self, state: FoldState) -> None:
        self.counter = Patience(self.patience, self.metric, self.min_delta)
        if self._pending is not None:
            self.load_state_dict(self._pending)
            self._pending = None

    def on_epoch_end(self, state: FoldState) -> None:
        if self.counter is None:
            self.on_fold_start(state)
        assert self.counter is not None
        if self.counter.step(monitored(state.metrics, self.metric)):
            state.request_stop(f"early stopping: no better {self.metric.name} in {self.patience} epochs")

    def state_dict(self) -> dict[str, Any]:
        if self.counter is None:
            return {}
        return {"best": self.counter.best, "bad_epochs": self.counter.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.counter is None:
            self._pending = dict(state)
            return
        self.counter.best, self.counter.bad_epochs = state["best"], int(state["bad_epochs"])


def build(opts: EarlyStoppingOptions, ctx: BuildContext) -> EarlyStopping:
    if ctx.metric is None:
        raise HarnessError("early_stopping needs the validation metric: build it in a training context (BuildContext.metric)")
    return EarlyStopping(ctx.metric, opts.patience, opts.min_delta)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("early_stopping", build, EarlyStoppingOptions,
                      doc="stop a fold after `patience` epochs without a better validation score")]
