"""What every component of a fold is built with (`BuildContext`), and what prediction alone needs
of the recipe: the eval transform, the TTA views and the model's input step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from torch import nn

from harness.config.schema import Recipe
from harness.errors import HarnessError
from harness.plugin_manager import Plugins
from harness.runtime.inputs import ModelInput
from harness.specs import IMAGENET_MEAN, IMAGENET_STD, BuildContext, MetricSpec, TTAView


def model_norm(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))


def make_context(recipe: Recipe, model: nn.Module, labels: np.ndarray, num_classes: int, seed: int, world: int,
                 on_device: bool, rank: int = 0, metric: MetricSpec | None = None) -> BuildContext:
    """What every component of a fold is built with. `train.batch_size` is the global batch:
    an epoch has len(labels) // batch_size batches on every process. `metric`: the cv.metric
    component, for training (prediction builds without one)."""
    cfg = recipe.train
    mean, std = model_norm(model)
    batches = max(1, len(labels) // cfg.batch_size)
    return BuildContext(
        num_classes=num_classes, labels=labels, seed=seed, epochs=cfg.epochs,
        steps_per_epoch=max(1, math.ceil(batches / cfg.grad_accum)), batch_size=cfg.batch_size,
        world_size=world, rank=rank, base_lr=cfg.lr, image_size=recipe.data.image_size, mean=mean, std=std,
        metric=metric,
        normalize=not (recipe.data.normalize_on_device and on_device),
    )


def build_views(recipe: Recipe, plugins: Plugins, ctx: BuildContext) -> list[TTAView]:
    views = [v for s in recipe.tta_options for v in plugins.tta_views(s, ctx)]
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        raise HarnessError(f"tta.views: two views share a name in {names}")
    return views


def build_eval(recipe: Recipe, plugins: Plugins, model: nn.Module, num_classes: int,
               on_device: bool) -> tuple[Any, list[TTAView], ModelInput]:
    """What prediction needs, and nothing of training: the eval transform, the TTA views and the
    model's input step."""
    ctx = make_context(recipe, model, np.zeros(0, dtype=np.int64), num_classes, recipe.train.seed, 1, on_device)
    return (plugins.sample_transform(recipe.augment, ctx, False), build_views(recipe, plugins, ctx),
            ModelInput(ctx.mean, ctx.std, recipe.model.channels_last))
