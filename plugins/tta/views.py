"""Test-time augmentation views (Krizhevsky et al., 2012; Simonyan & Zisserman, 2015): identity
and flips. Each view maps a normalized batch to a batch of the same shape, so all views of a batch
run through the model as one stacked batch."""

from __future__ import annotations

import torch

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, NoOptions, TTAView


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def hflip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


def vflip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-2)


def _single(name: str, fn):
    def build(opts: NoOptions, ctx: BuildContext | None) -> list[TTAView]:
        return [TTAView(name, fn)]

    return Component(name, build, NoOptions, doc=f"{name} view")


@hookimpl
def harness_tta_views() -> list[Component]:
    return [_single("identity", identity), _single("hflip", hflip), _single("vflip", vflip)]
