"""The `loss` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Poly-1 loss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification
Loss Functions", ICLR 2022): cross-entropy plus epsilon * (1 - p_t), where p_t is the probability
of the target.

    [loss]
    name = "__NAME__"
    epsilon = 1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TargetLoss, target_loss


@dataclass(frozen=True)
class __CLASS__Options:
    epsilon: float = 1.0  # weight of the (1 - p_t) term; 0 is plain cross-entropy

    def validate(self, where: str) -> None:
        require(self.epsilon >= -1.0, f"{where}.epsilon", "must be >= -1")


def poly1(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Batch mean of CE + epsilon * (1 - p_t); `target` is int (N,) or soft float (N, C)."""
    logp = F.log_softmax(logits.float(), dim=-1)  # float32 whatever the autocast dtype
    if target.ndim == 1:
        target = F.one_hot(target, logits.shape[-1]).float()
    ce = -(target * logp).sum(-1)
    pt = (target * logp.exp()).sum(-1)
    return (ce + epsilon * (1.0 - pt)).mean()


def build(opts: __CLASS__Options, ctx: BuildContext) -> TargetLoss:
    return target_loss(lambda logits, target: poly1(logits, target, opts.epsilon))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: Poly-1: cross-entropy + epsilon * (1 - p_t)")]
'''

TEST = '''

def test_epsilon_zero_is_cross_entropy() -> None:
    logits, target = torch.randn(8, 5), torch.arange(8) % 5
    torch.testing.assert_close(__MODULE__.poly1(logits, target, 0.0), torch.nn.functional.cross_entropy(logits, target))
'''

TEMPLATE = Template("loss", MODULE, TEST, "import torch", "the Poly-1 loss (Leng et al. 2022)")
