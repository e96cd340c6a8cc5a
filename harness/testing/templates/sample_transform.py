"""The `sample transform` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

A minimal per-sample pipeline (torchvision transforms v2): resize to the training size
and a random horizontal flip for training, the resize alone for evaluation. It runs in the loader
workers on one decoded uint8 (3, H, W) RGB image; randomness comes from torch's global generator,
which the loader seeds per (seed, epoch, sample), so augmentation does not depend on the workers.

    [augment]
    name = "__NAME__"
    hflip = 0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import v2

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    hflip: float = 0.5  # chance of a horizontal flip in training

    def validate(self, where: str) -> None:
        require(0.0 <= self.hflip <= 1.0, f"{where}.hflip", "must be in [0, 1]")


def build(opts: __CLASS__Options, ctx: BuildContext, train: bool) -> v2.Compose:
    steps: list[torch.nn.Module] = [v2.Resize((ctx.image_size, ctx.image_size), antialias=True)]
    if train and opts.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(opts.hflip))
    if ctx.normalize:  # else uint8 leaves the worker and the device normalizes (a GPU)
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(ctx.mean, ctx.std)]
    return v2.Compose(steps)


@hookimpl
def harness_sample_transforms() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: resize and a horizontal flip")]
'''

TEST = '''

def test_hflip_one_always_flips() -> None:
    from harness.testing import context

    image = torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)
    opts = __MODULE__.__CLASS__Options(hflip=1.0)
    train, plain = __MODULE__.build(opts, context(), train=True), __MODULE__.build(opts, context(), train=False)
    torch.testing.assert_close(train(image), plain(image.flip(-1)))
'''

TEMPLATE = Template("sample_transform", MODULE, TEST, "import torch", "a resize and a horizontal flip")
