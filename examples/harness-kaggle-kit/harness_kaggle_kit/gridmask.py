"""`gridmask`, a harness batch transform.

GridMask (Chen et al., "GridMask Data Augmentation", 2020): each image, with probability `prob`,
loses a regular grid of squares. A grid cell has side d, drawn per image in [d_min, d_max] times the
image's shorter side; in every cell a square of side `ratio` * d is set to 0 (the mean, since images
arrive normalized), and the grid is shifted by a random offset. Unlike random erasing it never
removes one whole object part, and unlike CutMix it leaves the targets alone.

It runs on the device after the loader: images are float (N, 3, H, W). Randomness comes from the
transform's own generator, seeded from the fold's seed and saved in `state_dict`, so a resumed run
masks exactly the same squares.

    [batch_transforms.gridmask]
    prob = 0.7
    ratio = 0.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class GridMaskOptions:
    prob: float = 0.7  # chance per image of masking a grid
    ratio: float = 0.5  # side of a masked square, as a share of the grid cell's side d
    d_min: float = 0.2  # d is drawn in [d_min, d_max] times the shorter image side
    d_max: float = 0.5  # see d_min

    def validate(self, where: str) -> None:
        require(0.0 <= self.prob <= 1.0, f"{where}.prob", "must be in [0, 1]")
        require(0.0 < self.ratio < 1.0, f"{where}.ratio", "must be in (0, 1)")
        require(0.0 < self.d_min <= self.d_max <= 1.0, f"{where}.d_min", "needs 0 < d_min <= d_max <= 1")


def grid_mask(h: int, w: int, d: int, ratio: float, dy: int, dx: int) -> torch.Tensor:
    """A float (h, w) mask: 0 on the squares of side ratio * d at every (dy + i d, dx + j d), else 1."""
    import torch  # in each function, not at the top: a verb that never trains loads no torch

    side = max(1, round(ratio * d))
    ys = (torch.arange(h) - dy) % d < side
    xs = (torch.arange(w) - dx) % d < side
    return 1.0 - (ys[:, None] & xs[None, :]).float()


class GridMask:
    def __init__(self, opts: GridMaskOptions, seed: int):
        import torch

        self.opts = opts
        self.generator = torch.Generator().manual_seed(seed + 7919)  # its own stream, not the model's

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        import torch

        images = batch.images
        n, _, h, w = images.shape
        g, o = self.generator, self.opts
        masks = torch.ones(n, 1, h, w)
        short = min(h, w)
        for i in range(n):  # every draw happens for every image, so the stream does not depend on `prob`'s outcomes
            use = torch.rand((), generator=g).item() < o.prob
            d = max(2, round((o.d_min + (o.d_max - o.d_min) * torch.rand((), generator=g).item()) * short))
            dy, dx = (int(v) for v in torch.randint(0, d, (2,), generator=g))
            if use:
                masks[i, 0] = grid_mask(h, w, d, o.ratio, dy, dx)
        masked = images * masks.to(images.device, images.dtype)
        return batch.with_(images=masked)  # targets, indices and extras stay as they are

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def build(opts: GridMaskOptions, ctx: BuildContext) -> GridMask:
    return GridMask(opts, ctx.seed)


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("gridmask", build, GridMaskOptions, doc="GridMask (Chen et al. 2020): a grid of squares set to 0")]
