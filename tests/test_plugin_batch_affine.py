from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from harness.config.typed import from_dict
from harness.plugin_manager import load_plugins
from harness.specs import Batch
from harness.testing import context
from harness_plugins.augment.batch_affine import BatchAffine, BatchAffineOptions, affine_matrices


def test_zero_jitter_is_identity() -> None:
    t = BatchAffine(BatchAffineOptions(rotate=0.0, translate=0.0), seed=0)
    x = torch.randn(5, 3, 12, 12)
    y = torch.arange(5)
    out = t(Batch(x, y, torch.arange(5)), 0)
    torch.testing.assert_close(out.images, x, atol=1e-5, rtol=1e-5)
    assert out.target is y


def test_images_jitter_independently_and_replay_from_state() -> None:
    component = load_plugins().get("batch_transforms", "batch_affine")
    t = component.build(from_dict(component.options, {"rotate": 30.0, "translate": 0.2}, "x"), context())
    x = torch.rand(1, 1, 16, 16).expand(4, 3, 16, 16).contiguous()
    state = t.state_dict()
    out = t.warp(x)
    assert out.shape == x.shape
    assert not torch.allclose(out[0], out[1])  # each image gets its own parameters
    t.load_state_dict(state)
    again = t(Batch(x, torch.zeros(4), torch.arange(4)), 0).images
    torch.testing.assert_close(out, again)


def test_quarter_turn_moves_top_to_a_side() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 0, 4] = 1.0  # top centre
    theta = affine_matrices(torch.tensor([math.pi / 2]), torch.zeros(1, 2), torch.ones(1))
    grid = F.affine_grid(theta, [1, 1, 9, 9], align_corners=False)
    out = F.grid_sample(x, grid, align_corners=False)
    assert out[0, 0, 0, 4] < 1e-4 and max(out[0, 0, 4, 0], out[0, 0, 4, 8]) > 0.99
