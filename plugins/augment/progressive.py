"""Progressive resizing with growing regularization (Tan & Le, "EfficientNetV2: Smaller Models and
Faster Training", 2021, Algorithm 1): the early epochs train on small images with weak
augmentation, and size and augmentation grow linearly to the full `data.image_size` and the full
strength by the last epochs. Small images make the early epochs cheap (the cost of a
convolutional network grows with the square of the side); weak augmentation suits them, since a
small image already carries less detail to overfit to.

What grows: the side, from `start_size` x `data.image_size` (rounded to a multiple of `multiple`)
to `data.image_size`, and the random-resized crop's reach, its smallest crop area falling from
`start_scale_min` to `scale_min`. Both are pure functions of the epoch, so a resumed run replays
every epoch exactly; every image of one epoch has the same size (they share a batch).
`data.image_size` is the final and largest size: the decoded-image cache stores images for it
once, and prediction uses it.

    [augment]
    name = "progressive"      # every key of "standard", and:
    start_size = 0.7          # 160 -> 176 -> 192 -> 208 -> 224 over 5 epochs at image_size 224
    start_scale_min = 0.6     # crops of 60-100% of the area first, 25-100% (scale_min) at the end
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, SampleTransform
from harness_plugins.augment.standard import StandardOptions, build_standard

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ProgressiveOptions(StandardOptions):
    start_size: float = 0.7  # the first epoch's side, as a share of data.image_size (the final side)
    start_scale_min: float = 0.6  # random_resized: the first epoch's smallest crop area; it falls to scale_min
    final_epochs: int = 1  # epochs at the end that train at the full size and strength
    multiple: int = 16  # every side is a multiple of this (the final side excepted)

    def validate(self, where: str) -> None:
        super().validate(where)
        require(0 < self.start_size <= 1, f"{where}.start_size", f"must be in (0, 1], got {self.start_size}")
        require(0 < self.start_scale_min <= 1, f"{where}.start_scale_min", f"must be in (0, 1], got {self.start_scale_min}")
        require(self.final_epochs >= 1, f"{where}.final_epochs", f"must be >= 1, got {self.final_epochs}")
        require(self.multiple >= 1, f"{where}.multiple", f"must be >= 1, got {self.multiple}")


@dataclass(frozen=True)
class Stage:
    size: int  # the side of every training image of the epoch
    scale_min: float  # the random-resized crop's smallest area share


def progress(epoch: int, epochs: int, final_epochs: int) -> float:
    """0 at the first epoch, rising linearly to 1 at the first of the `final_epochs` last ones."""
    growing = epochs - final_epochs
    return 1.0 if growing <= 0 else min(1.0, epoch / growing)


def stage(epoch: int, epochs: int, final_size: int, opts: ProgressiveOptions) -> Stage:
    t = progress(epoch, epochs, opts.final_epochs)
    if t >= 1.0:
        return Stage(final_size, opts.scale_min)
    start = opts.start_size * final_size
    size = opts.multiple * round((start + (final_size - start) * t) / opts.multiple)
    scale_min = opts.start_scale_min + (opts.scale_min - opts.start_scale_min) * t
    return Stage(min(final_size, max(opts.multiple, 8, size)), scale_min)


class ProgressiveTransform:
    """The training transform of each epoch (`at_epoch`, which the training dataset calls with
    the epoch of every item); called without an epoch it is the last epoch's."""

    def __init__(self, opts: ProgressiveOptions, ctx: BuildContext):
        self.opts, self.ctx = opts, ctx
        self._built: dict[Stage, SampleTransform] = {}

    def stage(self, epoch: int) -> Stage:
        return stage(epoch, self.ctx.epochs, self.ctx.image_size, self.opts)

    def at_epoch(self, epoch: int) -> SampleTransform:
        s = self.stage(epoch)
        if s not in self._built:
            standard: StandardOptions = self.opts
            self._built[s] = build_standard(replace(standard, scale_min=s.scale_min), replace(self.ctx, image_size=s.size), True)
        return self._built[s]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.at_epoch(self.ctx.epochs - 1)(image)


def build_progressive(opts: ProgressiveOptions, ctx: BuildContext, train: bool) -> SampleTransform:
    return ProgressiveTransform(opts, ctx) if train else build_standard(opts, ctx, False)


@hookimpl
def harness_sample_transforms() -> list[Component]:
    return [Component("progressive", build_progressive, ProgressiveOptions,
                      doc="standard, with the size and crop reach growing over the epochs (EfficientNetV2)")]
