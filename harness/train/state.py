"""The trainer's side of a fold's state. `TrainState` is the `harness.specs.FoldState` that every
callback event receives (those fields are the plugin API), plus the loop's own bookkeeping
(stop flags, non-finite counts, step losses and flags not yet read from the device), and the one
object that a checkpoint saves and a resume restores (`state_dict` / `load_state_dict`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from torch import nn
from torch.optim import Optimizer

from harness.config.schema import Recipe
from harness.runtime.inputs import ModelInput
from harness.specs import Loss

# Fields that a checkpoint saves and a resume restores, in one place.
# The stop flags too: a fold that a callback stopped, killed while predicting, must resume stopped.
RESUMED = ("update", "best", "best_epoch", "history", "rates", "nonfinite_steps", "epoch_nonfinite",
           "stop", "stop_run", "stop_reason")


@dataclass
class TrainState:
    recipe: Recipe
    accelerator: Accelerator
    model: nn.Module  # as prepared (may be wrapped for DDP); `unwrapped` is the bare module
    unwrapped: nn.Module
    optimizer: Optimizer
    fold: int
    inputs: ModelInput = field(default_factory=ModelInput)  # batch -> model input (memory format, normalization)
    train_ids: tuple[str, ...] = ()
    fold_of: Mapping[str, int] = field(default_factory=dict)  # labelled id -> fold (folds.csv)
    loss: Loss | None = None  # the fold's loss object, as built
    epoch: int = 0
    update: int = 0  # optimizer updates so far in this fold
    metrics: dict[str, Any] = field(default_factory=dict)  # this epoch's, filled before on_epoch_end
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)  # candidate -> best validation score
    best_epoch: dict[str, int] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # training images/s per epoch
    stop: bool = False  # end this fold after this epoch
    stop_run: bool = False  # end the whole run after this epoch
    stop_discard: bool = False  # ... and skip its predictions and outputs (a pruned tuning trial)
    stop_reason: str = ""
    nonfinite_steps: int = 0  # consecutive non-finite losses
    epoch_nonfinite: int = 0  # non-finite losses so far this epoch
    pending_flags: list[tuple[int, int, int, Any]] = field(default_factory=list)  # (epoch, step, update, flag) not yet read
    step_losses: list[Any] = field(default_factory=list)  # per step: floats, or device tensors not yet read
    run_dir: Path = field(default_factory=Path)  # the run folder (harness run --out); "." outside a run

    @property
    def fold_dir(self) -> Path:
        """This fold's folder in the run folder, `run_dir/fold{fold}`."""
        return self.run_dir / f"fold{self.fold}"

    def request_stop(self, reason: str, run: bool = False, discard: bool = False) -> None:
        """End this fold (or, with `run`, the whole run) after the current epoch. With `discard`
        the whole run ends at once, without predicting or writing its outputs: its results are not
        wanted (a pruned tuning trial), so every process is free within the epoch."""
        self.stop = True
        self.stop_run = self.stop_run or run or discard
        self.stop_discard = self.stop_discard or discard
        self.stop_reason = self.stop_reason or reason

    def losses_as_floats(self) -> list[float]:
        self.step_losses = [float(x) for x in self.step_losses]
        return self.step_losses

    def state_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in RESUMED}, "step_losses": self.losses_as_floats()}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        for key in RESUMED:
            if key not in saved:  # a checkpoint written before the field was saved
                continue
            value = saved[key]
            setattr(self, key, type(getattr(self, key))(value) if isinstance(value, (list, dict)) else value)
        self.step_losses = list(saved["step_losses"])
