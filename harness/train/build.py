"""Build a fold's components from the recipe: each one by name, through the plugin manager."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from torch import nn

from harness.config.schema import Recipe
from harness.plugin_manager import Plugins
from harness.runtime.context import build_views, make_context
from harness.runtime.device import on_gpu
from harness.runtime.inputs import ModelInput
from harness.specs import BuildContext, Callback, TTAView


@dataclass
class Components:
    ctx: BuildContext
    train_tf: Any
    eval_tf: Any
    sampler: Any
    loss: Any
    batch_transforms: dict[str, Any]  # name -> transform, in recipe order
    callbacks: dict[str, Callback]
    views: list[TTAView]
    inputs: ModelInput

    def resumable(self) -> dict[str, Any]:
        """Everything with state that an exact resume must restore, by a stable key."""
        out: dict[str, Any] = {f"batch.{k}": v for k, v in self.batch_transforms.items()}
        out.update({f"callback.{k}": v for k, v in self.callbacks.items()})
        return {k: v for k, v in out.items() if hasattr(v, "state_dict")}


def build_components(recipe: Recipe, plugins: Plugins, model: nn.Module, labels: np.ndarray, num_classes: int,
                     seed: int, world: int, rank: int = 0) -> Components:
    ctx = make_context(recipe, model, labels, num_classes, seed, world, on_gpu(), rank, plugins.metric(recipe.cv.metric))
    return Components(
        ctx=ctx,
        train_tf=plugins.sample_transform(recipe.augment, ctx, True),
        eval_tf=plugins.sample_transform(recipe.augment, ctx, False),
        sampler=plugins.sampler(recipe.sampler, ctx),
        loss=plugins.loss(recipe.loss, ctx),
        batch_transforms={s.name: plugins.batch_transform(s, ctx) for s in recipe.batch_transforms},
        callbacks={s.name: plugins.callback(s, ctx) for s in recipe.callbacks},
        views=build_views(recipe, plugins, ctx),
        inputs=ModelInput(ctx.mean, ctx.std, recipe.model.channels_last),
    )


def with_steps(ctx: BuildContext, steps_per_epoch: int) -> BuildContext:
    return replace(ctx, steps_per_epoch=steps_per_epoch)
