"""`focal`, a harness loss.

Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017): cross-entropy with each
sample down-weighted by (1 - p_t)^gamma, so that easy, confident examples count less. It accepts hard
(N,) or soft (N, C) targets, so it composes with CutMix/Mixup. The package follows the layout that
`harness plugin new NAME --kind loss` writes.

    [loss]
    name = "focal"
    gamma = 2.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TargetLoss, target_loss

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class FocalOptions:
    gamma: float = 2.0  # focusing parameter: 0 is plain cross-entropy, larger ignores easy examples more
    smoothing: float = 0.0  # label smoothing of the targets before the focal weight, as loss.smoothing of cross_entropy

    def validate(self, where: str) -> None:
        require(self.gamma >= 0, f"{where}.gamma", "must be >= 0")
        require(0 <= self.smoothing < 1, f"{where}.smoothing", "must be in [0, 1)")


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float, smoothing: float = 0.0) -> torch.Tensor:
    """Batch mean of -sum_c t_c (1 - p_c)^gamma log p_c; `target` is int (N,) or soft float (N, C)."""
    import torch.nn.functional as F  # here, not at the top: a verb that never trains loads no torch

    num_classes = logits.shape[-1]
    if target.ndim == 1:
        target = F.one_hot(target, num_classes).float()
    target = target * (1 - smoothing) + smoothing / num_classes
    logp = F.log_softmax(logits.float(), dim=-1)  # float32 whatever the autocast dtype
    weight = (1 - logp.exp()).pow(gamma)
    return -(target * weight * logp).sum(-1).mean()


def build(opts: FocalOptions, ctx: BuildContext) -> TargetLoss:
    return target_loss(lambda logits, target: focal_loss(logits, target, opts.gamma, opts.smoothing))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("focal", build, FocalOptions, doc="focal loss (Lin et al. 2017): gamma down-weights easy examples")]
