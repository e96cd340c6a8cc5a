"""Knowledge distillation: `alpha * task + (1 - alpha) * T^2 * D(teacher^T, student^T)`.

Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network" (2015): soften both
distributions with a temperature T, p^T = softmax(logits / T), and match the student to the teacher
with KL(teacher || student). The gradient of the soft term w.r.t. the student logits scales as
1/T^2 (one 1/T from the softmax, one from the shrinking gap between tempered probabilities), so
multiplying it by T^2 keeps its weight against the task loss unchanged when T is tuned.

D is one of `js`, the Jensen-Shannon divergence (Lin, "Divergence measures based on the Shannon
entropy", 1991): symmetric and bounded by ln 2, so a confident wrong teacher cannot blow it up;
`kl`, Hinton's KL(teacher || student); or `reverse_kl`, KL(student || teacher) (mode-seeking).

All math is in float32 log space, whatever the logits' dtype (bf16, fp16), with 0 log 0 = 0, so
probabilities of exactly 0 (one-hot teachers, logits of -inf) give no NaN in values or gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from harness.config.typed import require
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component
from harness_plugins.loss.cross_entropy import SmoothedCrossEntropy

Divergence = Literal["js", "kl", "reverse_kl"]
TeacherKind = Literal["logits", "probs"]
# reverse_kl divides by the teacher: a teacher probability of 0 where the student has mass would make
# it infinite, so the teacher's log-probabilities are floored at the smallest normal float32.
LOG_TINY = math.log(torch.finfo(torch.float32).tiny)


def kl_divergence(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row of log-probabilities (N, C) -> (N,), natural log, 0 log 0 = 0.
    Infinite only where p > 0 and q = 0, as the math says."""
    p = p_log.exp()
    # mask the difference itself: where p = 0 it may be -inf - -inf = NaN, and a NaN in the branch
    # that `where` drops would still poison the gradient of a product taken after it
    diff = torch.where(p > 0, p_log - q_log, torch.zeros_like(p_log))
    return (p * diff).sum(-1)


def js_divergence(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
    """JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, per row -> (N,); in [0, ln 2]."""
    both_zero = torch.isneginf(p_log) & torch.isneginf(q_log)  # logaddexp's gradient is NaN there
    zero = torch.zeros_like(p_log)
    m_log = torch.logaddexp(torch.where(both_zero, zero, p_log), torch.where(both_zero, zero, q_log))
    m_log = torch.where(both_zero, p_log, m_log - math.log(2.0))
    return 0.5 * kl_divergence(p_log, m_log) + 0.5 * kl_divergence(q_log, m_log)


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """float32 at least: bf16 and fp16 are upcast, float64 stays (for gradcheck)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def tempered_log_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """log softmax(logits / T), in float32 at least."""
    return F.log_softmax(_upcast(logits) / temperature, dim=-1)


def tempered_log_probs_from_probs(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cached probabilities p (N, C) at temperature T: p^(1/T) renormalized, which equals
    softmax(log p / T), i.e. the tempered softmax of the logits that produced p (the softmax is
    shift-invariant, so log p is those logits up to a per-row constant)."""
    return tempered_log_probs(_upcast(probs).log(), temperature)


def distill_term(student_logits: torch.Tensor, teacher: torch.Tensor, temperature: float,
                 divergence: Divergence, *, teacher_is: TeacherKind) -> torch.Tensor:
    """Batch mean of T^2 * D(teacher^T, student^T); `teacher` is (N, C) logits or probabilities."""
    student = tempered_log_probs(student_logits, temperature)
    if teacher_is == "probs":
        target = tempered_log_probs_from_probs(teacher, temperature)
    else:
        target = tempered_log_probs(teacher, temperature)
    if divergence == "js":
        per_sample = js_divergence(target, student)
    elif divergence == "kl":
        per_sample = kl_divergence(target, student)
    else:
        per_sample = kl_divergence(student, target.clamp(min=LOG_TINY))
    return temperature**2 * per_sample.mean()


@dataclass(frozen=True)
class DistillOptions:
    alpha: float = 0.5  # weight of the task loss; 1 - alpha goes to the distillation term
    temperature: float = 2.0  # T: both distributions are softened as softmax(logits / T)
    divergence: Divergence = "js"  # js (Jensen-Shannon), kl (teacher || student) or reverse_kl
    smoothing: float = 0.0  # label smoothing of the task loss

    def validate(self, where: str) -> None:
        require(0.0 <= self.alpha <= 1.0, f"{where}.alpha", "must be in [0, 1]")
        require(self.temperature > 0.0, f"{where}.temperature", "must be > 0")
        require(0.0 <= self.smoothing < 1.0, f"{where}.smoothing", "must be in [0, 1)")


class DistillLoss:
    """The harness `Loss`: cross-entropy on `batch.target` plus the distillation term against the
    teacher's probabilities in `batch.extras["teacher_probs"]` (float (N, C), mixed like the
    targets), or else against `teacher(batch.images)` when a model is attached as `teacher`."""

    def __init__(self, num_classes: int, opts: DistillOptions, teacher: nn.Module | None = None):
        self.task = SmoothedCrossEntropy(num_classes, opts.smoothing)
        self.opts = opts
        self.teacher = teacher

    def _teacher(self, logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, TeacherKind]:
        kind: TeacherKind
        probs = batch.extras.get("teacher_probs")
        if probs is not None:
            out, kind = probs, "probs"
        elif self.teacher is not None:
            self.teacher.eval()
            with torch.no_grad():
                out, kind = self.teacher(batch.images), "logits"
        else:
            raise HarnessError(
                "loss 'distill' has no teacher: put the teacher's probabilities (float (N, C)) in "
                "batch.extras['teacher_probs'] from a callback's on_batch (cached soft labels), or attach "
                "a model with `loss.teacher = model`")
        if out.shape != logits.shape:
            raise HarnessError(f"loss 'distill': teacher {kind} have shape {tuple(out.shape)}, "
                               f"the student's logits {tuple(logits.shape)}")
        return out.detach(), kind

    def __call__(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        alpha, total = self.opts.alpha, torch.zeros((), device=logits.device)
        if alpha > 0.0:
            total = total + alpha * self.task(logits, batch.target)
        if alpha < 1.0:
            teacher, kind = self._teacher(logits, batch)
            soft = distill_term(logits, teacher, self.opts.temperature, self.opts.divergence, teacher_is=kind)
            total = total + (1.0 - alpha) * soft
        return total


def build(opts: DistillOptions, ctx: BuildContext) -> DistillLoss:
    return DistillLoss(ctx.num_classes, opts)


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("distill", build, DistillOptions,
                      doc="knowledge distillation (JS, KL or reverse KL) from extras['teacher_probs'] or a teacher model")]
