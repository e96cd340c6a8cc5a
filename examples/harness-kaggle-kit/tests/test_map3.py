"""Contract tests: the checks harness runs on every metric (`harness.testing.MetricContract`),
and properties of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

import harness_kaggle_kit.map3
import numpy as np

from harness.testing import MetricContract


class TestMap3(MetricContract):
    name = "map3"
    options: ClassVar[dict[str, Any]] = {}  # recipe keys, as a recipe would set them
    plugins = (harness_kaggle_kit.map3,)  # the module on disk: the tests run before `pip install -e .` too


def test_each_rank_scores_its_reciprocal() -> None:
    probs = np.array([[0.5, 0.3, 0.15, 0.05]] * 4)
    assert harness_kaggle_kit.map3.map3(np.array([0, 1, 2, 3]), probs) == (1 + 1 / 2 + 1 / 3 + 0) / 4


def test_top1_is_accuracy() -> None:
    rng = np.random.default_rng(0)
    probs, y = rng.dirichlet(np.ones(5), size=50), rng.integers(0, 5, size=50)
    assert harness_kaggle_kit.map3.map_at_k(y, probs, k=1) == float((probs.argmax(1) == y).mean())
