"""The frozen teacher network that the distillation loss calls on the student's batch, after
CutMix/Mixup: the teacher sees exactly the image the student sees ("consistent teaching", Beyer
et al., "Knowledge distillation: A good teacher is patient and consistent", 2022).

One model, or one model per fold of a finished run: `route(members)` names, for each row of the
next batch, the fold model that predicts it (the one that never trained on that sample), and only
that model runs on that row. Each member pools its TTA views as its run pooled them
(`harness.predict.pooling.log_pool`: the mean, or the geometric mean). Inputs arrive
normalized for the student and are re-normalized for the teacher.

Kept apart from the student: it is not a submodule of anything the student owns, never goes
through `accelerator.prepare` (no DDP wrapper, no gradient synchronization), has no parameter that
needs a gradient, stays in eval mode whatever `train()` asks, and no checkpoint holds it; a resumed
run loads it again from where it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from harness.predict.pooling import log_pool
from harness.specs import PoolKind, TTAView


def renormalizer(student: tuple[Sequence[float], Sequence[float]], teacher: tuple[Sequence[float], Sequence[float]]
                 ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(a, b) with a * x + b mapping an image normalized with the student's (mean, std) to the
    teacher's normalization; None when they are the same."""
    (ms, ss), (mt, st) = student, teacher
    if tuple(ms) == tuple(mt) and tuple(ss) == tuple(st):
        return None
    s_mean, s_std = torch.tensor(ms).view(1, -1, 1, 1), torch.tensor(ss).view(1, -1, 1, 1)
    t_mean, t_std = torch.tensor(mt).view(1, -1, 1, 1), torch.tensor(st).view(1, -1, 1, 1)
    return s_std / t_std, (s_mean - t_mean) / t_std


class TeacherNet(nn.Module):
    """`teacher(images)` -> (N, C) float32 log-probabilities; `images` as in `Batch.images`."""

    def __init__(self, members: Sequence[nn.Module], views: Sequence[Sequence[TTAView]],
                 renorm: Sequence[tuple[torch.Tensor, torch.Tensor] | None],
                 autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
                 pools: Sequence[PoolKind] | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.views = [list(v) for v in views]
        self.renorm = list(renorm)
        self.pools: list[PoolKind] = list(pools) if pools is not None else ["mean"] * len(members)
        self.autocast = autocast
        self.requires_grad_(False)
        self._route: torch.Tensor | None = None
        super().train(False)

    def train(self, mode: bool = True) -> TeacherNet:
        return super().train(False)  # a teacher's BatchNorm and dropout stay as they were trained

    def route(self, members: torch.Tensor | None) -> None:
        """For the next call: row i goes to `members[i]` (an index into the member models, int64 on
        the device). A single-member teacher needs no route."""
        self._route = members

    def predict(self, member: int, images: torch.Tensor) -> torch.Tensor:
        """One member's log-probabilities, its TTA views pooled."""
        scale = self.renorm[member]
        if scale is not None:
            a, b = (t.to(images.device) for t in scale)
            images = images * a + b
        model, views = self.members[member], self.views[member]
        with self.autocast():
            logits = [model(v.apply(images)) for v in views]
        return log_pool(logits, self.pools[member])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        route, self._route = self._route, None  # one batch's routing serves one call
        if len(self.members) == 1:
            return self.predict(0, images)
        if route is None or route.shape[0] != images.shape[0]:
            got = "no rows" if route is None else f"{route.shape[0]} rows"
            raise RuntimeError(f"the fold-aware teacher was routed {got} for a batch of {images.shape[0]}")
        # Rows grouped by member, each group through its own model only: one forward pass of the
        # batch in all, at the cost of reading the group sizes on the host once a batch.
        order = torch.argsort(route, stable=True)
        sizes = torch.bincount(route, minlength=len(self.members)).tolist()
        parts = [self.predict(m, chunk) for m, chunk in enumerate(images[order].split(sizes)) if len(chunk)]
        out = parts[0].new_empty((images.shape[0], parts[0].shape[1]))
        out[order] = torch.cat(parts)
        return out
