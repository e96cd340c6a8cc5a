"""Build a fold's components from the recipe: each one by name, through the plugin manager."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from harness.config.schema import Recipe
from harness.data.dataset import ImageDataset
from harness.errors import HarnessError
from harness.plugin_manager import Plugins
from harness.specs import IMAGENET_MEAN, IMAGENET_STD, BuildContext, Callback, MetricSpec, TTAView
from harness.train.device import on_gpu
from harness.train.inputs import ModelInput


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


def _views(recipe: Recipe, plugins: Plugins, ctx: BuildContext) -> list[TTAView]:
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
    return (plugins.sample_transform(recipe.augment, ctx, False), _views(recipe, plugins, ctx),
            ModelInput(ctx.mean, ctx.std, recipe.model.channels_last))


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
        views=_views(recipe, plugins, ctx),
        inputs=ModelInput(ctx.mean, ctx.std, recipe.model.channels_last),
    )


def with_steps(ctx: BuildContext, steps_per_epoch: int) -> BuildContext:
    return replace(ctx, steps_per_epoch=steps_per_epoch)


def seed_worker(worker_id: int) -> None:
    """numpy and random in a worker follow its torch seed (augmentation itself is seeded per sample)."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(ds: ImageDataset, batch: int, workers: int, sampler: Any = None, drop_last: bool = False,
                pin_memory: bool = True) -> DataLoader:
    """`pin_memory` acts only with a GPU: page-locked batches, which the Accelerator then copies
    without blocking the host (`data.pin_memory`)."""
    return DataLoader(
        ds, batch_size=batch, sampler=sampler, shuffle=False, num_workers=workers,
        pin_memory=pin_memory and on_gpu(), persistent_workers=workers > 0, drop_last=drop_last,
        worker_init_fn=seed_worker,
        # Its own generator: starting an epoch's iterator must not draw from the global RNG, which
        # dropout uses and a checkpoint restores.
        generator=torch.Generator().manual_seed(0),
    )
