"""One pooling, two forms: the numpy pools a run writes with (`pool_views`, `pool_run`) and the
torch pool an exported graph and a live distillation teacher compute (`log_pool`) agree, for the
mean and the geometric mean, and a fold's views pool by the run's ensembler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.metrics import softmax
from harness.plugin_manager import load_plugins
from harness.predict.pooling import log_pool, pool_kind, pool_run, pool_views


def _logits(seed: int, views: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 3, size=(7, 5)).astype(np.float32) for _ in range(views)]


@pytest.mark.parametrize("name", ["mean", "geometric"])
def test_torch_pool_matches_the_ensembler_the_run_pools_with(name: str) -> None:
    ensemble = plugins().ensembler(name)
    views = _logits(0)
    expected = pool_views(ensemble, views)
    kind = pool_kind(ensemble)
    assert kind == name
    got = log_pool([torch.from_numpy(v) for v in views], kind).exp().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_geometric_differs_from_mean_so_the_choice_matters() -> None:
    views = [torch.from_numpy(v) for v in _logits(1)]
    assert not torch.allclose(log_pool(views, "mean"), log_pool(views, "geometric"), atol=1e-3)


def test_pool_views_without_an_ensembler_is_the_mean_of_softmaxes() -> None:
    views = _logits(2)
    np.testing.assert_allclose(pool_views(None, views), np.mean([softmax(v) for v in views], axis=0), rtol=1e-6)
    assert pool_kind(None) == "mean"


def test_rank_has_no_torch_form() -> None:
    assert pool_kind(plugins().ensembler("rank")) is None


def test_pool_run_pools_views_then_folds() -> None:
    ensemble = plugins().ensembler("geometric")
    folds = [dict(zip("abc", _logits(s), strict=True)) for s in (3, 4)]
    per_fold = [ensemble([softmax(v) for v in f.values()]) for f in folds]
    np.testing.assert_allclose(pool_run(ensemble, folds), ensemble(per_fold))


def plugins():  # type: ignore[no-untyped-def]
    return load_plugins()
