"""Properties of the class-balanced sampler."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import BuildContext
from harness_plugins.sampler.class_balanced import ClassBalancedOptions, ClassBalancedSampler

COUNTS = np.array([100, 25, 4])
LABELS = np.repeat(np.arange(3), COUNTS)


def ctx(seed: int = 0) -> BuildContext:
    return BuildContext(num_classes=3, labels=LABELS, seed=seed, epochs=2, steps_per_epoch=1,
                        batch_size=4, world_size=2, base_lr=1e-3, image_size=32)


def build(seed: int = 0, **options: object) -> ClassBalancedSampler:
    component = load_plugins().get("samplers", "class_balanced")
    return component.build(from_dict(component.options, options, "sampler"), ctx(seed))


@pytest.mark.parametrize(("options", "q"), [
    ({"mode": "instance"}, 1.0), ({"mode": "class_balanced"}, 0.0), ({"mode": "sqrt"}, 0.5),
    ({"mode": "power", "q": 0.25}, 0.25),
])
def test_class_frequencies_follow_the_mode(options: dict[str, Any], q: float) -> None:
    sampler = build(num_samples=30_000, **options)
    freq = np.bincount(LABELS[list(sampler)], minlength=3) / 30_000
    expected = COUNTS**q / (COUNTS**q).sum()
    np.testing.assert_allclose(freq, expected, atol=0.015)


def test_epoch_length_defaults_to_the_fold() -> None:
    assert len(build()) == len(list(build())) == len(LABELS)


def test_draw_depends_on_seed_and_epoch_only() -> None:
    a, b = build(), build()
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b) == list(a)
    b.set_epoch(2)
    assert list(a) != list(b)
    assert list(build(seed=1)) != list(build(seed=0))


def test_without_replacement_is_a_permutation() -> None:
    assert sorted(build(replacement=False)) == list(range(len(LABELS)))
    with pytest.raises(HarnessError):
        build(replacement=False, num_samples=len(LABELS) + 1)


def test_ranks_get_disjoint_shards_of_one_global_draw() -> None:
    bs, world = 4, 2
    draw = list(build(num_samples=40))
    positions: list[set[int]] = []
    for rank in range(world):  # each process builds its own sampler from the same (seed, epoch)
        shard = BatchSamplerShard(BatchSampler(build(num_samples=40), bs, drop_last=True),
                                  num_processes=world, process_index=rank)
        mine: set[int] = set()
        for k, got in enumerate(shard):
            batch = k * world + rank  # Accelerate deals whole batches round-robin
            assert got == draw[batch * bs:(batch + 1) * bs]
            mine.update(range(batch * bs, (batch + 1) * bs))
        positions.append(mine)
    assert not positions[0] & positions[1]
    assert positions[0] | positions[1] == set(range(len(draw)))


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(HarnessError):
        from_dict(ClassBalancedOptions, {"mode": "median"}, "sampler")
    with pytest.raises(HarnessError):
        from_dict(ClassBalancedOptions, {"num_samples": -1}, "sampler")
