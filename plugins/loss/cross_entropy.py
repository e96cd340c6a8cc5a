"""Cross-entropy with label smoothing (Szegedy et al., "Rethinking the Inception Architecture",
2016) for hard targets, and soft-target cross-entropy for mixed targets (CutMix/Mixup).

Smoothing is applied here and only here: a batch transform hands over unsmoothed mixed targets,
and since smoothing is linear, smoothing the mix equals mixing smoothed targets.
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
class CrossEntropyOptions:
    smoothing: float = 0.0  # label smoothing epsilon: targets become (1 - s) * target + s / C

    def validate(self, where: str) -> None:
        require(0.0 <= self.smoothing < 1.0, f"{where}.smoothing", "must be in [0, 1)")


def smooth(target: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """Soft targets from hard (N,) or soft (N, C) targets, smoothed towards uniform."""
    if target.ndim == 1:
        target = F.one_hot(target, num_classes).to(torch.float32)
    return target * (1.0 - smoothing) + smoothing / num_classes


class SmoothedCrossEntropy(nn.Module):
    def __init__(self, num_classes: int, smoothing: float = 0.0):
        super().__init__()
        self.num_classes = num_classes
        self.smoothing = smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if target.ndim == 1:
            return F.cross_entropy(logits, target, label_smoothing=self.smoothing)
        soft = smooth(target, self.num_classes, self.smoothing)
        return torch.sum(-soft * F.log_softmax(logits, dim=-1), dim=-1).mean()


def build(opts: CrossEntropyOptions, ctx: BuildContext) -> TargetLoss:
    return target_loss(SmoothedCrossEntropy(ctx.num_classes, opts.smoothing))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("cross_entropy", build, CrossEntropyOptions,
                      doc="cross-entropy with label smoothing, for hard or soft (mixed) targets")]
