"""Optuna's samplers by name: TPE (Bergstra et al. 2011, the default), random search, CMA-ES
(Hansen 2016; Optuna's `CmaEsSampler`, which needs the `cmaes` package) and grid search over
the space's choices and stepped ranges."""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.tune.space import Param

if TYPE_CHECKING:
    import optuna


def grid_of(space: tuple[Param, ...]) -> dict[str, list[Any]]:
    """Every point the grid visits, per key; a continuous range cannot be a grid."""
    grid: dict[str, list[Any]] = {}
    for p in space:
        values = p.grid()
        if values is None:
            raise HarnessError(f"--sampler grid needs choices or a stepped range for every searched key; tune.{p.key} "
                               "is a continuous range: give it a step, or choices")
        grid[p.key] = values
    return grid


def grid_size(space: tuple[Param, ...]) -> int:
    return math.prod(len(v) for v in grid_of(space).values())


def make_sampler(name: str, space: tuple[Param, ...], seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "tpe":
        # constant_liar: a running trial counts as a poor result, so parallel workers spread out
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        if importlib.util.find_spec("cmaes") is None:
            raise HarnessError("--sampler cmaes needs the cmaes package: pip install cmaes")
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_of(space), seed=seed)
    raise ValueError(f"unknown sampler {name!r}")


__all__ = ["make_sampler", "grid_of", "grid_size"]
