"""The standard per-sample pipeline on torchvision transforms v2: random-resized crop, flips,
small affine jitter and colour jitter for training; resize and centre crop for evaluation.

Inception-style crops follow Szegedy et al., "Going Deeper with Convolutions" (2015).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

if TYPE_CHECKING:  # torchvision's import costs ~2 s (its ops pull torch._dynamo): paid only when a pipeline is built
    from torchvision.transforms import v2

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class StandardOptions:
    crop: Literal["random_resized", "resize"] = "random_resized"  # training crop: Inception-style random crop, or a plain resize
    scale_min: float = 0.25  # random_resized: the smallest crop, as a share of the image area
    hflip: float = 0.5  # chance of a horizontal flip
    vflip: float = 0.0  # chance of a vertical flip
    rotate: float = 0.0  # random rotation up to this many degrees either way
    translate: float = 0.0  # random shift up to this fraction of the size
    color_jitter: float = 0.0  # brightness, contrast and saturation jitter strength (0: off)
    crop_pct: float = 0.875  # evaluation: resize to size / crop_pct, then centre-crop

    def min_crop_area(self) -> float:
        """The smallest share of the image area a training crop covers (the cache's check)."""
        return self.scale_min if self.crop == "random_resized" else 1.0

    def validate(self, where: str) -> None:
        require(0 < self.scale_min <= 1, f"{where}.scale_min", "must be in (0, 1]")
        require(0 <= self.hflip <= 1 and 0 <= self.vflip <= 1, where, "flip probabilities must be in [0, 1]")
        require(0 < self.crop_pct <= 1, f"{where}.crop_pct", "must be in (0, 1]")
        require(0 <= self.translate < 1, f"{where}.translate", "must be in [0, 1)")


def build_standard(opts: StandardOptions, ctx: BuildContext, train: bool) -> v2.Compose:
    from torchvision.transforms import v2

    size = ctx.image_size
    steps: list[torch.nn.Module] = []
    if train:
        if opts.crop == "random_resized":
            steps.append(v2.RandomResizedCrop(size, scale=(opts.scale_min, 1.0), antialias=True))
        else:
            steps.append(v2.Resize((size, size), antialias=True))
        if opts.hflip > 0:
            steps.append(v2.RandomHorizontalFlip(opts.hflip))
        if opts.vflip > 0:
            steps.append(v2.RandomVerticalFlip(opts.vflip))
        if opts.rotate > 0 or opts.translate > 0:
            steps.append(v2.RandomAffine(opts.rotate, translate=(opts.translate, opts.translate)))
        if opts.color_jitter > 0:
            j = opts.color_jitter
            steps.append(v2.ColorJitter(j, j, j))
    elif opts.crop == "random_resized":
        steps += [v2.Resize(int(size / opts.crop_pct), antialias=True), v2.CenterCrop(size)]
    else:
        steps.append(v2.Resize((size, size), antialias=True))
    if ctx.normalize:  # otherwise uint8 leaves the worker, and the trainer normalizes on the GPU
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(ctx.mean, ctx.std)]
    return v2.Compose(steps)


@hookimpl
def harness_sample_transforms() -> list[Component]:
    return [Component("standard", build_standard, StandardOptions,
                      doc="per-image crop, flips, affine and colour jitter (torchvision v2)")]
