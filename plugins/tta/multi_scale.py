"""Multi-scale test-time augmentation (Simonyan & Zisserman, "Very Deep Convolutional Networks",
2015, section 3.2): predict the image zoomed in and out and average.

Every view keeps the input's (N, C, H, W) shape, because all views of a batch go through the model
as one stacked batch. A scale above 1 zooms in: upsample, then centre-crop back to (H, W). A scale
below 1 zooms out: downsample, then reflect-pad back, which keeps the border statistics closer to
a real photo than zero padding (zero is the dataset mean after normalization, a flat grey frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TTAView

MIN_SCALE, MAX_SCALE = 0.5, 2.0  # reflect padding needs the padding smaller than the image


@dataclass(frozen=True)
class MultiScaleOptions:
    scales: tuple[float, ...] = (0.9, 1.1)  # one view per zoom factor in [0.5, 2]: above 1 zooms in

    def validate(self, where: str) -> None:
        require(len(self.scales) > 0, f"{where}.scales", "must list at least one scale")
        for s in self.scales:
            require(MIN_SCALE <= s <= MAX_SCALE, f"{where}.scales", f"{s} not in [{MIN_SCALE}, {MAX_SCALE}]")
        names = [view_name(s) for s in self.scales]
        require(len(set(names)) == len(names), f"{where}.scales", f"views must be distinct, got {names}")


def view_name(scale: float) -> str:
    return f"scale{scale:g}"


def rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Zoom a batch (N, C, H, W) by `scale` about its centre, keeping (H, W)."""
    h, w = x.shape[-2:]
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    if (sh, sw) == (h, w):
        return x
    zoomed = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=scale < 1)
    if scale > 1:
        top, left = (sh - h) // 2, (sw - w) // 2
        return zoomed[..., top : top + h, left : left + w]
    top, left = (h - sh) // 2, (w - sw) // 2
    return F.pad(zoomed, (left, w - sw - left, top, h - sh - top), mode="reflect")


def build(opts: MultiScaleOptions, ctx: BuildContext | None) -> list[TTAView]:
    return [TTAView(view_name(s), partial(rescale, scale=s)) for s in opts.scales]


@hookimpl
def harness_tta_views() -> list[Component]:
    return [Component("multi_scale", build, MultiScaleOptions, doc="zoom in (crop) and out (reflect-pad)")]
