"""Binary cross-entropy over one-hot or soft targets, as timm's `timm/loss/binary_cross_entropy.py`
(used by "ResNet strikes back", Wightman et al., 2021), with label smoothing and an optional
threshold that binarizes (mixed) targets.

Unlike timm, soft targets are smoothed here too: batch transforms hand over unsmoothed targets, so
the loss is the one place smoothing happens, for hard and soft targets alike.
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
class BinaryCrossEntropyOptions:
    smoothing: float = 0.0  # label smoothing: on = 1 - s + s/C, off = s/C
    target_threshold: float | None = None  # targets above it become 1, the rest 0
    sum_classes: bool = False  # sum over classes, then average over the batch

    def validate(self, where: str) -> None:
        require(0.0 <= self.smoothing < 1.0, f"{where}.smoothing", "must be in [0, 1)")
        t = self.target_threshold
        require(t is None or 0.0 <= t < 1.0, f"{where}.target_threshold", "must be in [0, 1)")


def binary_targets(target: torch.Tensor, num_classes: int, smoothing: float,
                   threshold: float | None) -> torch.Tensor:
    """Float (N, C) targets from hard (N,) or soft (N, C) ones: smoothed like timm's one-hot
    (on = 1 - s + s/C, off = s/C), then binarized when `threshold` is set."""
    if target.ndim == 1:
        target = torch.zeros(target.shape[0], num_classes, device=target.device).scatter_(
            1, target.long().view(-1, 1), 1.0)
    target = target.float() * (1.0 - smoothing) + smoothing / num_classes
    if threshold is not None:
        target = target.gt(threshold).float()
    return target


class BinaryCrossEntropy(nn.Module):
    def __init__(self, num_classes: int, smoothing: float = 0.0, target_threshold: float | None = None,
                 sum_classes: bool = False):
        super().__init__()
        self.num_classes, self.smoothing = num_classes, smoothing
        self.target_threshold, self.sum_classes = target_threshold, sum_classes

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        soft = binary_targets(target, self.num_classes, self.smoothing, self.target_threshold)
        if self.sum_classes:
            return F.binary_cross_entropy_with_logits(logits, soft, reduction="none").sum(-1).mean()
        return F.binary_cross_entropy_with_logits(logits, soft)


def build(opts: BinaryCrossEntropyOptions, ctx: BuildContext) -> TargetLoss:
    return target_loss(BinaryCrossEntropy(ctx.num_classes, opts.smoothing, opts.target_threshold, opts.sum_classes))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("binary_cross_entropy", build, BinaryCrossEntropyOptions,
                      doc="per-class sigmoid BCE, smoothing, target threshold")]
