"""`poly1`, a harness loss.

Poly-1 loss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification
Loss Functions", ICLR 2022): cross-entropy plus epsilon * (1 - p_t), where p_t is the probability
of the target.

    [loss]
    name = "poly1"
    epsilon = 1.0
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
class Poly1Options:
    epsilon: float = 1.0  # weight of the (1 - p_t) term; 0 is plain cross-entropy

    def validate(self, where: str) -> None:
        require(self.epsilon >= -1.0, f"{where}.epsilon", "must be >= -1")


def poly1(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Batch mean of CE + epsilon * (1 - p_t); `target` is int (N,) or soft float (N, C)."""
    import torch.nn.functional as F  # here, not at the top: a verb that never trains loads no torch

    logp = F.log_softmax(logits.float(), dim=-1)  # float32 whatever the autocast dtype
    if target.ndim == 1:
        target = F.one_hot(target, logits.shape[-1]).float()
    ce = -(target * logp).sum(-1)
    pt = (target * logp.exp()).sum(-1)
    return (ce + epsilon * (1.0 - pt)).mean()


def build(opts: Poly1Options, ctx: BuildContext) -> TargetLoss:
    return target_loss(lambda logits, target: poly1(logits, target, opts.epsilon))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("poly1", build, Poly1Options, doc="Poly-1: cross-entropy + epsilon * (1 - p_t)")]
