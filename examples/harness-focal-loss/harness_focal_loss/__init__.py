"""Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017) as a harness plugin.

Down-weights easy examples by (1 - p_t)^gamma. Accepts hard (N,) or soft (N, C) targets, so it
composes with CutMix/Mixup. Enable in a recipe with:

    [loss]
    name = "focal"
    gamma = 2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TargetLoss, target_loss


@dataclass(frozen=True)
class FocalOptions:
    gamma: float = 2.0
    smoothing: float = 0.0

    def validate(self, where: str) -> None:
        require(self.gamma >= 0, f"{where}.gamma", "must be >= 0")
        require(0 <= self.smoothing < 1, f"{where}.smoothing", "must be in [0, 1)")


class FocalLoss(nn.Module):
    def __init__(self, num_classes: int, gamma: float, smoothing: float):
        super().__init__()
        self.num_classes, self.gamma, self.smoothing = num_classes, gamma, smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.ndim == 1:
            target = F.one_hot(target, self.num_classes).float()
        target = target * (1 - self.smoothing) + self.smoothing / self.num_classes
        logp = F.log_softmax(logits.float(), dim=-1)
        weight = (1 - logp.exp()).pow(self.gamma)
        return -(target * weight * logp).sum(-1).mean()


def build(opts: FocalOptions, ctx: BuildContext) -> TargetLoss:
    return target_loss(FocalLoss(ctx.num_classes, opts.gamma, opts.smoothing))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("focal", build, FocalOptions, doc="focal loss, gamma down-weights easy examples")]
