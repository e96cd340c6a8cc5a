"""The `tta view` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Shifted views for test-time augmentation: the batch moved `pixels` to the left and
to the right, the edge column repeated. A view maps a normalized float (N, 3, H, W) batch on the
device to one of the same shape; the views' logits are ensembled by `ensemble.name`.

    [tta]
    views = ["identity", "__NAME__"]

    [tta.__NAME__]
    pixels = 2
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TTAView


@dataclass(frozen=True)
class __CLASS__Options:
    pixels: int = 2  # how far each view moves the image, in pixels

    def validate(self, where: str) -> None:
        require(self.pixels >= 1, f"{where}.pixels", "must be >= 1")


def shift(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """Move a batch (N, C, H, W) right by `pixels` (left when negative), repeating the edge."""
    w = x.shape[-1]
    p = min(abs(pixels), w - 1)
    if p == 0:
        return x
    if pixels > 0:
        return F.pad(x[..., : w - p], (p, 0, 0, 0), mode="replicate")
    return F.pad(x[..., p:], (0, p, 0, 0), mode="replicate")


def build(opts: __CLASS__Options, ctx: BuildContext | None) -> list[TTAView]:
    return [TTAView("__NAME___left", partial(shift, pixels=-opts.pixels)),
            TTAView("__NAME___right", partial(shift, pixels=opts.pixels))]


@hookimpl
def harness_tta_views() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: the image shifted left and right")]
'''

TEST = '''

def test_shift_moves_columns() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5)
    assert __MODULE__.shift(x, 1).flatten().tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]
'''

TEMPLATE = Template("tta_view", MODULE, TEST, "import torch", "shifted views")
