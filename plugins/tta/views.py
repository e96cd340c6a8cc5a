"""Test-time augmentation views (Krizhevsky et al., 2012; Simonyan & Zisserman, 2015): identity,
flips, and `translate`, the image shifted by a pixel up-left and down-right (the border
reflected), each also mirrored: the four translated views of the CIFAR-10 speed record (airbench94's
TTA level 2). Each view maps a normalized batch to a batch of the same shape, so all views of a
batch run through the model as one stacked batch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, NoOptions, TTAView


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def hflip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


def vflip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-2)


@dataclass(frozen=True)
class TranslateOptions:
    pixels: int = 1  # the shift, in pixels, along both axes

    def validate(self, where: str) -> None:
        require(self.pixels >= 1, f"{where}.pixels", "must be >= 1")


def translate(x: torch.Tensor, pixels: int, flip: bool = False) -> torch.Tensor:
    """`x` shifted by `pixels` along both axes (positive: the content moves down-right), the
    uncovered border reflected; mirrored after when `flip`."""
    h, w = x.shape[-2:]
    p = abs(pixels)
    padded = F.pad(x, (p, p, p, p), mode="reflect")
    top = p - pixels
    out = padded[..., top : top + h, top : top + w]
    return out.flip(-1) if flip else out


def build_translate(opts: TranslateOptions, ctx: BuildContext | None) -> list[TTAView]:
    return [TTAView(f"translate_{name}{'_hflip' if flip else ''}", partial(translate, pixels=sign * opts.pixels, flip=flip))
            for name, sign in (("ul", -1), ("dr", 1)) for flip in (False, True)]


def _single(name: str, fn):
    def build(opts: NoOptions, ctx: BuildContext | None) -> list[TTAView]:
        return [TTAView(name, fn)]

    return Component(name, build, NoOptions, doc=f"{name} view")


@hookimpl
def harness_tta_views() -> list[Component]:
    return [_single("identity", identity), _single("hflip", hflip), _single("vflip", vflip),
            Component("translate", build_translate, TranslateOptions,
                      doc="shifted a pixel up-left and down-right, each also mirrored (4 views)")]
