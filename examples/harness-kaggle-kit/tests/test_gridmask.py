"""Contract tests: the checks harness runs on every batch transform (`harness.testing.BatchTransformContract`),
and properties of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

import harness_kaggle_kit.gridmask as gm
import torch

from harness.specs import Batch
from harness.testing import BatchTransformContract


class TestGridMask(BatchTransformContract):
    name = "gridmask"
    options: ClassVar[dict[str, Any]] = {"prob": 0.7, "ratio": 0.5}  # recipe keys, as a recipe would set them
    plugins = (gm,)  # the module on disk: the tests run before `pip install -e .` too


def _batch() -> Batch:
    return Batch(torch.randn(6, 3, 16, 16) + 5.0, torch.arange(6) % 3, torch.arange(6))


def test_prob_zero_changes_nothing() -> None:
    batch = _batch()
    assert torch.equal(gm.GridMask(gm.GridMaskOptions(prob=0.0), seed=0)(batch, 0).images, batch.images)


def test_prob_one_masks_the_ratio_squared_share_and_keeps_the_targets() -> None:
    batch = _batch()
    out = gm.GridMask(gm.GridMaskOptions(prob=1.0, ratio=0.5, d_min=0.5, d_max=0.5), seed=0)(batch, 0)
    zeroed = (out.images == 0).all(dim=1).float().mean(dim=(1, 2))
    torch.testing.assert_close(zeroed, torch.full((6,), 0.25))  # d = 8 divides 16: exactly (4 / 8) ** 2 of each image
    assert torch.equal(out.target, batch.target) and torch.equal(out.index, batch.index)


def test_the_mask_is_a_regular_grid() -> None:
    mask = gm.grid_mask(8, 8, d=4, ratio=0.5, dy=1, dx=0)
    assert mask[1:3, 0:2].eq(0).all() and mask[5:7, 4:6].eq(0).all() and mask[0].eq(1).all()
