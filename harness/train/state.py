"""The mutable state a fold's callbacks see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accelerate import Accelerator
from torch import nn
from torch.optim import Optimizer

from harness.config.schema import Recipe
from harness.train.inputs import ModelInput


@dataclass
class TrainState:
    recipe: Recipe
    accelerator: Accelerator
    model: nn.Module  # as prepared (may be wrapped for DDP); `unwrapped` is the bare module
    unwrapped: nn.Module
    optimizer: Optimizer
    fold: int
    inputs: ModelInput = field(default_factory=ModelInput)  # batch -> model input (memory format, normalization)
    epoch: int = 0
    update: int = 0  # optimizer updates so far in this fold
    metrics: dict[str, Any] = field(default_factory=dict)  # this epoch's, filled before on_epoch_end
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    nonfinite_steps: int = 0  # consecutive non-finite losses
    epoch_nonfinite: int = 0  # non-finite losses so far this epoch
    pending_flags: list[tuple[int, int, int, Any]] = field(default_factory=list)  # (epoch, step, update, flag) not yet read
    step_losses: list[Any] = field(default_factory=list)  # per step: floats, or device tensors not yet read

    def losses_as_floats(self) -> list[float]:
        self.step_losses = [float(x) for x in self.step_losses]
        return self.step_losses
