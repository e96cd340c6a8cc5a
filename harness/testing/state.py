"""A real `TrainState` for testing a callback without training: the default recipe (or yours),
a CPU Accelerator, a tiny linear model and its optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def train_state(recipe: Mapping[str, Any] | None = None, num_classes: int = 4, **fields: Any) -> Any:
    """`TrainState` of fold 0 for a `Linear(8, num_classes)`; `recipe` is recipe data as TOML
    would give it (`{"cv": {"metric": "log_loss"}}`); `fields` set TrainState fields."""
    from accelerate import Accelerator

    from harness.config.recipe import build_recipe
    from harness.plugin_manager import load_plugins
    from harness.train.state import TrainState

    built = build_recipe(dict(recipe or {}), load_plugins())
    model = nn.Linear(8, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = TrainState(built, Accelerator(cpu=True), model, model, optimizer, fold=0)
    for key, value in fields.items():
        setattr(state, key, value)
    return state
