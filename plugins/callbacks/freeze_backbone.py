"""Train the new head alone for the first epochs, then everything (Howard & Ruder, "Universal
Language Model Fine-tuning", 2018, gradual unfreezing; the "train the top layers first" recipe of
Yosinski et al., "How transferable are features in deep neural networks?", 2014).

Freezing is a zero learning rate on the backbone's parameter groups, not `requires_grad = False`:
the optimizer and the DDP gradient buckets stay as they were built, and AdamW's decoupled weight
decay (scaled by the learning rate) leaves the frozen weights untouched too. Gradients are still
computed and BatchNorm running statistics still move while frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component


@dataclass(frozen=True)
class FreezeOptions:
    epochs: int = 1  # epochs at the start during which the backbone does not learn

    def validate(self, where: str) -> None:
        require(self.epochs >= 0, f"{where}.epochs", f"must be >= 0, got {self.epochs}")


def backbone_factor(epoch: int, frozen_epochs: int) -> float:
    return 0.0 if epoch < frozen_epochs else 1.0


class FreezeBackbone(Callback):
    def __init__(self, epochs: int = 1):
        self.epochs = epochs

    def lr_factor(self, state: Any, group: str) -> float:
        return backbone_factor(state.epoch, self.epochs) if group == "backbone" else 1.0


def build(opts: FreezeOptions, ctx: BuildContext) -> FreezeBackbone:
    return FreezeBackbone(opts.epochs)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("freeze_backbone", build, FreezeOptions, doc="train the head alone (backbone lr 0) for the first epochs")]
