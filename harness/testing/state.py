"""A real `TrainState` for testing a callback without training: the default recipe (or yours),
a CPU Accelerator, a tiny linear model and its optimizer, and a run folder of its own."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn


def train_state(recipe: Mapping[str, Any] | None = None, num_classes: int = 4, run_dir: Path | None = None,
                rank: int = 0, **fields: Any) -> Any:
    """`TrainState` of fold 0 for a `Linear(8, num_classes)`; `recipe` is recipe data as TOML
    would give it (`{"cv": {"metric": "log_loss"}}`); `run_dir` the run folder (default: a new
    temporary folder), whose `fold_dir` exists as in a run; `rank` > 0: the state as process `rank`
    of `rank + 1` sees it (`harness.testing.ranks.OtherRank`: not the main process); `fields` set
    TrainState fields."""
    from accelerate import Accelerator

    from harness.config.recipe import build_recipe
    from harness.plugin_manager import load_plugins
    from harness.testing.ranks import OtherRank
    from harness.train.state import TrainState

    built = build_recipe(dict(recipe or {}), load_plugins())
    model = nn.Linear(8, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="harness-run-"))
        atexit.register(shutil.rmtree, run_dir, True)
    accelerator: Any = Accelerator(cpu=True)
    if rank:
        accelerator = OtherRank(accelerator, rank, rank + 1)
    state = TrainState(built, accelerator, model, model, optimizer, fold=0, run_dir=Path(run_dir))
    for key, value in fields.items():
        setattr(state, key, value)
    state.fold_dir.mkdir(parents=True, exist_ok=True)
    return state
