"""Random affine jitter (rotation, translation, scale) applied to a whole batch on the device in
one `grid_sample` (Jaderberg et al., "Spatial Transformer Networks", 2015, for the sampling).

Per-sample torchvision transforms cost about a millisecond an image in Python overhead; on small
images that is more than the network's own step, so this moves the jitter to the batch. Each
image gets its own parameters, drawn from the transform's own generator (resumable). Every process
draws the parameters of the whole global batch and keeps its own rows, so N processes warp each
image exactly as one process would (and no two processes repeat each other's draws).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component


@dataclass(frozen=True)
class BatchAffineOptions:
    rotate: float = 10.0  # degrees, uniform in [-rotate, rotate]
    translate: float = 0.1  # fraction of the size, uniform in [-translate, translate]
    scale_min: float = 1.0  # zoom factor drawn uniformly in [scale_min, scale_max]; above 1 zooms in
    scale_max: float = 1.0  # see scale_min; 1.0 and 1.0: no zoom
    prob: float = 1.0  # chance per image of being warped at all

    def validate(self, where: str) -> None:
        require(0 <= self.rotate <= 180, f"{where}.rotate", "must be in [0, 180]")
        require(0 <= self.translate < 1, f"{where}.translate", "must be in [0, 1)")
        require(0 < self.scale_min <= self.scale_max, f"{where}.scale_min", "needs 0 < scale_min <= scale_max")
        require(0 <= self.prob <= 1, f"{where}.prob", "must be in [0, 1]")


def affine_matrices(angle: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) sampling matrices in normalized coordinates: rotate by `angle` (radians), zoom by
    `scale` (> 1 zooms in) and shift by `shift` (N, 2) in units of the half-size."""
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)


class BatchAffine:
    def __init__(self, opts: BatchAffineOptions, seed: int, world_size: int = 1, rank: int = 0):
        self.opts, self.world_size, self.rank = opts, world_size, rank
        self.generator = torch.Generator().manual_seed(seed + 7919)

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        return batch.with_(images=self.warp(batch.images))

    def warp(self, images: torch.Tensor) -> torch.Tensor:
        o, n, g = self.opts, images.shape[0], self.generator
        total = n * self.world_size  # the global batch: every process draws it all, alike
        on = torch.rand(total, generator=g) < o.prob
        angle = (torch.rand(total, generator=g) * 2 - 1) * math.radians(o.rotate) * on
        shift = (torch.rand(total, 2, generator=g) * 2 - 1) * (2 * o.translate) * on[:, None]
        scale = o.scale_min + torch.rand(total, generator=g) * (o.scale_max - o.scale_min)
        scale = torch.where(on, scale, torch.ones_like(scale))
        mine = slice(self.rank * n, (self.rank + 1) * n)
        theta = affine_matrices(angle[mine], shift[mine], scale[mine]).to(images.device, images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        # Normalized images: border padding repeats the edge rather than inventing black.
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def build(opts: BatchAffineOptions, ctx: BuildContext) -> BatchAffine:
    return BatchAffine(opts, ctx.seed, ctx.world_size, ctx.rank)


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("batch_affine", build, BatchAffineOptions, doc="per-image rotation/shift/zoom on the batch")]
