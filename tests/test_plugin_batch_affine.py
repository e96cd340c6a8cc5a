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


def test_processes_warp_their_pieces_as_one_process_warps_the_global_batch() -> None:
    """Two processes each draw the whole global batch and keep their rows: together they warp it
    as one process does, and their pieces get different jitter (not rank 0's draws twice)."""
    opts = BatchAffineOptions(rotate=30.0, translate=0.2, scale_min=0.8, scale_max=1.2, prob=0.7)
    x = torch.rand(1, 3, 16, 16).expand(8, 3, 16, 16).contiguous()  # one image: only the jitter differs
    one = BatchAffine(opts, seed=3)
    ranks = [BatchAffine(opts, seed=3, world_size=2, rank=r) for r in (0, 1)]
    for _ in range(2):  # two steps: the generators stay in step
        whole = one.warp(x)
        pieces = [t.warp(x[4 * r: 4 * r + 4]) for r, t in enumerate(ranks)]
        torch.testing.assert_close(torch.cat(pieces), whole)
        assert not torch.allclose(pieces[0], pieces[1])


def test_the_context_gives_the_transform_its_rank() -> None:
    component = load_plugins().get("batch_transforms", "batch_affine")
    t = component.build(from_dict(component.options, {}, "x"), context(world_size=4, rank=3))
    assert (t.world_size, t.rank) == (4, 3)
