"""Random translation (a random crop of the image padded by `pad` pixels, reflected at the edges)
and horizontal flips, drawn per image and applied to the whole batch on the device in one gather:
the augmentation of the CIFAR speed records (Page, "How to train your ResNet", 2018; Jordan,
airbench, 2024), whose loaders augment whole batches with no per-image Python.

Each image's shift and flip come from the transform's own generator (resumable). Every process
draws the parameters of the whole global batch and keeps its own rows, so N processes augment each
image exactly as one process would.

With `alternate`, flips follow airbench's scheme instead: each image has a fixed coin (chance
`flip`, drawn from its index in the fold's training split and the seed) and is mirrored in the
epochs where the coin XOR the epoch's parity is set, so over two epochs every image is seen both
ways; this adds diversity over independent flips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.runtime.device import host_to_device
from harness.specs import Batch, BuildContext, Component


@dataclass(frozen=True)
class CropFlipOptions:
    pad: int = 4  # the largest shift, in pixels, either way (0: no translation)
    flip: float = 0.5  # chance of a horizontal flip
    prob: float = 1.0  # chance per image of being shifted at all
    alternate: bool = False  # flip each image in every other epoch (a fixed coin per image), not at random

    def validate(self, where: str) -> None:
        require(self.pad >= 0, f"{where}.pad", "must be >= 0")
        require(0 <= self.flip <= 1, f"{where}.flip", "must be in [0, 1]")
        require(0 <= self.prob <= 1, f"{where}.prob", "must be in [0, 1]")


def crop_flip(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor, pad: int) -> torch.Tensor:
    """`images` (N, C, H, W) shifted by (dy, dx) pixels each (ints in [-pad, pad], the uncovered
    border reflected) and mirrored where `flip`: one pad and one gather for the whole batch."""
    n, _, h, w = images.shape
    if pad > 0:
        padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
        rows = (torch.arange(h, device=images.device)[None, :] + pad + dy[:, None]).clamp(0, h + 2 * pad - 1)
        cols = (torch.arange(w, device=images.device)[None, :] + pad + dx[:, None]).clamp(0, w + 2 * pad - 1)
        batch = torch.arange(n, device=images.device)[:, None, None]
        images = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class CropFlip:
    def __init__(self, opts: CropFlipOptions, seed: int, world_size: int = 1, rank: int = 0):
        self.opts, self.world_size, self.rank = opts, world_size, rank
        self.generator = torch.Generator().manual_seed(seed + 104729)
        self.seed = seed

    def coin(self, index: torch.Tensor) -> torch.Tensor:
        """Each image's fixed coin for `alternate`: a hash of (seed, index) below `flip`."""
        mixed = (index.to(torch.int64) * 2654435761 + self.seed * 40503 + 12345) % 4294967296
        mixed = (mixed ^ (mixed >> 15)) * 2246822519 % 4294967296
        return (mixed ^ (mixed >> 13)).to(torch.float64) / 4294967296 < self.opts.flip

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        o, n, g = self.opts, batch.images.shape[0], self.generator
        total = n * self.world_size  # the global batch: every process draws it all, alike
        on = torch.rand(total, generator=g) < o.prob
        shift = torch.randint(-o.pad, o.pad + 1, (total, 2), generator=g) * on[:, None]
        flip = torch.rand(total, generator=g) < o.flip
        mine = slice(self.rank * n, (self.rank + 1) * n)
        device = batch.images.device
        # One copy to the device that does not wait for it: the step loop never syncs with a GPU.
        params = host_to_device(torch.stack([shift[mine, 0], shift[mine, 1], flip[mine].long()]), device)
        # The coins are drawn where the indices are (on the device, after the loader's copy).
        flips = self.coin(batch.index).to(device) ^ bool(epoch % 2) if o.alternate else params[2].bool()
        return batch.with_(images=crop_flip(batch.images, params[0], params[1], flips, o.pad))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def build(opts: CropFlipOptions, ctx: BuildContext) -> CropFlip:
    return CropFlip(opts, ctx.seed, ctx.world_size, ctx.rank)


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("crop_flip", build, CropFlipOptions, doc="per-image random shift (reflect-padded) and flip on the batch")]
