"""Optional experiment trackers through Accelerate (`train.log_with = ["tensorboard"]`): the
resolved recipe as hyperparameters, every epoch's numbers as `foldK/NAME` scalars, the run's
scores at the end. log.jsonl and metrics.json stay the record; a tracker is a view of them. Off
by default, and its package is optional: a missing one is an error that says what to install."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

# tracker -> the packages, any one of which it runs on (Accelerate's TensorBoard tracker takes
# torch.utils.tensorboard, which needs `tensorboard`, or else tensorboardX)
PACKAGES: dict[str, tuple[str, ...]] = {"tensorboard": ("tensorboard", "tensorboardX")}
PROJECT = "tensorboard"  # RUN_DIR/tensorboard/: the run's tracker logs


def check_available(names: Sequence[str]) -> None:
    """Accelerate silently drops a tracker whose package is missing; a recipe that asks for one
    deserves an error instead."""
    for name in names:
        if not any(importlib.util.find_spec(p) for p in PACKAGES.get(name, (name,))):
            raise HarnessError(f"train.log_with = {list(names)}: {name} is not installed (pip install {name}); "
                               "or drop the key: log.jsonl and metrics.json record every run anyway")


def logging_dir(names: Sequence[str], out_dir: Path | None) -> Path | None:
    """Where Accelerate's trackers write, after checking they can: None when none is asked for
    (or the Accelerator serves prediction, with no run folder)."""
    if not names or out_dir is None:
        return None
    check_available(names)
    return out_dir


def hyperparameters(recipe: Any) -> dict[str, int | float | str | bool]:
    """The resolved recipe flattened to `section.key` scalars (lists as text), as trackers take them."""
    from harness.config.recipe import recipe_to_dict

    flat: dict[str, int | float | str | bool] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:
            flat[prefix] = str(list(value) if isinstance(value, (tuple, list)) else value)

    walk("", recipe_to_dict(recipe))
    return flat


def epoch_scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """One epoch's numbers (`TrainState.metrics`) as `foldK/NAME` scalars."""
    fold = metrics.get("fold", 0)
    return {f"fold{fold}/{k}": float(v) for k, v in metrics.items()
            if k not in ("fold", "epoch") and isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The run's scores and rates from metrics.json."""
    return {f"run/{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
