"""Five-crop and ten-crop test-time augmentation (Krizhevsky et al., "ImageNet Classification with
Deep Convolutional Neural Networks", 2012, section 4.1): the four corner crops and the centre crop,
each resized back to the input size; ten-crop adds their horizontal flips.

The crops run on the batched, normalized tensor on the device, so every view keeps the input's
(N, C, H, W) shape and all views of a batch go through the model as one stacked batch. Centre
placement rounds as torchvision's `center_crop` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TTAView

POSITIONS = ("tl", "tr", "bl", "br", "center")


@dataclass(frozen=True)
class CropOptions:
    crop: float = 0.875  # side of each crop as a fraction of the input side

    def validate(self, where: str) -> None:
        require(0.0 < self.crop <= 1.0, f"{where}.crop", f"must be in (0, 1], got {self.crop}")


def crop_box(h: int, w: int, fraction: float, position: str) -> tuple[int, int, int, int]:
    """(top, left, height, width) of one crop of an (h, w) image."""
    ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top = {"tl": 0, "tr": 0, "bl": h - ch, "br": h - ch, "center": int(round((h - ch) / 2.0))}[position]
    left = {"tl": 0, "tr": w - cw, "bl": 0, "br": w - cw, "center": int(round((w - cw) / 2.0))}[position]
    return top, left, ch, cw


def crop_resized(x: torch.Tensor, fraction: float, position: str, flip: bool = False) -> torch.Tensor:
    """One crop of a batch (N, C, H, W), resized back to (H, W) and optionally mirrored."""
    h, w = x.shape[-2:]
    top, left, ch, cw = crop_box(h, w, fraction, position)
    out = x[..., top : top + ch, left : left + cw]
    if (ch, cw) != (h, w):
        out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
    return out.flip(-1) if flip else out


def crop_views(prefix: str, fraction: float, flips: bool) -> list[TTAView]:
    views = [
        TTAView(f"{prefix}_{p}", partial(crop_resized, fraction=fraction, position=p)) for p in POSITIONS
    ]
    if flips:
        views += [
            TTAView(f"{prefix}_{p}_hflip", partial(crop_resized, fraction=fraction, position=p, flip=True))
            for p in POSITIONS
        ]
    return views


def build_five(opts: CropOptions, ctx: BuildContext | None) -> list[TTAView]:
    return crop_views("five_crop", opts.crop, flips=False)


def build_ten(opts: CropOptions, ctx: BuildContext | None) -> list[TTAView]:
    return crop_views("ten_crop", opts.crop, flips=True)


@hookimpl
def harness_tta_views() -> list[Component]:
    return [
        Component("five_crop", build_five, CropOptions, doc="four corners and the centre, resized back"),
        Component("ten_crop", build_ten, CropOptions, doc="five crops and their horizontal flips"),
    ]
