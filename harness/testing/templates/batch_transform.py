"""The `batch transform` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Random erasing on the batch (Zhong et al., "Random Erasing Data Augmentation", AAAI
2020): each image, with probability `prob`, gets a random rectangle replaced by noise. It runs on
the device after the loader, before the loss; images are normalized float (N, 3, H, W), so the noise
is standard normal. Randomness comes from the transform's own generator, saved in `state_dict`, so
a resumed run erases exactly the same rectangles.

    [batch_transforms.__NAME__]
    prob = 0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    prob: float = 0.5  # chance per image of erasing a rectangle
    min_area: float = 0.02  # the rectangle's area, as a share of the image, drawn in [min_area, max_area]
    max_area: float = 0.25  # see min_area

    def validate(self, where: str) -> None:
        require(0.0 <= self.prob <= 1.0, f"{where}.prob", "must be in [0, 1]")
        require(0.0 < self.min_area <= self.max_area < 1.0, f"{where}.min_area", "needs 0 < min_area <= max_area < 1")


class __CLASS__:
    def __init__(self, opts: __CLASS__Options, seed: int):
        self.opts = opts
        self.generator = torch.Generator().manual_seed(seed + 104729)  # its own stream, not the model's

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        images = batch.images.clone()
        n, _, h, w = images.shape
        g, o = self.generator, self.opts
        for i in range(n):
            if torch.rand((), generator=g).item() >= o.prob:
                continue
            area = (o.min_area + (o.max_area - o.min_area) * torch.rand((), generator=g).item()) * h * w
            side = max(1, int(math.sqrt(area)))
            eh, ew = min(side, h), min(side, w)
            y = int(torch.randint(0, h - eh + 1, (), generator=g))
            x = int(torch.randint(0, w - ew + 1, (), generator=g))
            noise = torch.randn(images.shape[1], eh, ew, generator=g).to(images.device, images.dtype)
            images[i, :, y : y + eh, x : x + ew] = noise
        return batch.with_(images=images)  # targets, indices and extras stay as they are

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts, ctx.seed)


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: random erasing: a noise rectangle per image")]
'''

TEST = '''

def test_prob_zero_changes_nothing() -> None:
    from harness.specs import Batch

    t = __MODULE__.__CLASS__(__MODULE__.__CLASS__Options(prob=0.0), seed=0)
    batch = Batch(torch.randn(4, 3, 8, 8), torch.arange(4), torch.arange(4))
    assert torch.equal(t(batch, 0).images, batch.images)
'''

TEMPLATE = Template("batch_transform", MODULE, TEST, "import torch", "random erasing (Zhong et al. 2020)")
