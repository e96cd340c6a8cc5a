"""Train and predict one fold: build the components the recipe names, run the epochs, keep the
best weights (raw or a callback's, such as EMA), then predict OOF, test and holdout with TTA."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.utils.data import DataLoader

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.data.dataset import ImageDataset
from harness.metrics import better, score, softmax
from harness.outputs.checkpoint import load_weights, save_weights
from harness.plugin_manager import Plugins
from harness.specs import IMAGENET_MEAN, IMAGENET_STD, BuildContext, Callback, TTAView
from harness.train.loop import train_one_epoch
from harness.train.optim import build_optimizer
from harness.train.predict import predict
from harness.train.state import TrainState


@dataclass
class FoldData:
    train: Split
    valid: Split
    predict_sets: dict[str, Split]  # "test", "holdout": predicted by the best weights
    cache: dict[Path, Path] | None  # image path -> cache entry


@dataclass
class FoldResult:
    fold: int
    score: float
    best_epoch: int
    best_weights: str  # "raw" or a callback's name such as "ema"
    candidate_scores: dict[str, float]
    oof: dict[str, np.ndarray]  # view -> logits, rows in valid order
    predictions: dict[str, dict[str, np.ndarray]]  # set -> view -> logits
    history: list[dict[str, Any]] = field(default_factory=list)
    train_img_per_s: list[float] = field(default_factory=list)
    predict_img_per_s: float = 0.0


def _seed_worker(worker_id: int) -> None:
    # Each worker's torch seed comes from the loader's generator; numpy and random follow it.
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _loader(ds: ImageDataset, batch: int, workers: int, sampler: Any = None, drop_last: bool = False,
            seed: int = 0) -> DataLoader:
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        drop_last=drop_last,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(seed),
    )


def _entries(split: Split, cache: dict[Path, Path] | None) -> list[Path] | None:
    return None if cache is None else [cache[p] for p in split.paths]


def _model_norm(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))


def run_fold(
    fold: int,
    recipe: Recipe,
    plugins: Plugins,
    accelerator: Accelerator,
    data: FoldData,
    num_classes: int,
    out_dir: Path,
    progress: Callable[..., Any],
) -> FoldResult:
    cfg, acc = recipe.train, accelerator
    seed = cfg.seed + 1000 * fold
    set_seed(seed)
    model = plugins.get("models", recipe.model.source).build(recipe.model, num_classes)
    if recipe.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    mean, std = _model_norm(model)
    assert data.train.labels is not None and data.valid.labels is not None
    world = acc.num_processes
    per_proc_batches = math.ceil((len(data.train) // cfg.batch_size) / world)
    ctx = BuildContext(
        num_classes=num_classes, labels=data.train.labels, seed=seed, epochs=cfg.epochs,
        steps_per_epoch=max(1, math.ceil(per_proc_batches / cfg.grad_accum)), batch_size=cfg.batch_size,
        world_size=world, base_lr=cfg.lr, image_size=recipe.data.image_size, mean=mean, std=std,
    )

    def component(kind: str, sel: Any, *extra: Any) -> Any:
        return plugins.get(kind, sel.name).build(sel.options, ctx, *extra)

    train_tf = component("sample_transforms", recipe.augment, True)
    eval_tf = component("sample_transforms", recipe.augment, False)
    sampler = component("samplers", recipe.sampler)
    loss_fn = component("losses", recipe.loss)
    batch_transforms = [component("batch_transforms", s) for s in recipe.batch_transforms]
    callbacks: list[Callback] = [component("callbacks", s) for s in recipe.callbacks]
    views: list[TTAView] = [v for s in recipe.tta_options for v in component("tta_views", s)]
    eval_batch = cfg.eval_batch_size or 2 * cfg.batch_size

    workers = recipe.data.num_workers
    train_ds = ImageDataset(data.train.paths, data.train.labels, train_tf, _entries(data.train, data.cache))
    train_loader = _loader(train_ds, cfg.batch_size, workers, sampler, drop_last=len(train_ds) > cfg.batch_size, seed=seed)
    valid_loader = _loader(
        ImageDataset(data.valid.paths, data.valid.labels, eval_tf, _entries(data.valid, data.cache)), eval_batch, workers
    )
    lr = cfg.lr * (cfg.batch_size * world * cfg.grad_accum / 256 if cfg.scale_lr else 1.0)
    optimizer = build_optimizer(model, cfg, lr)
    model, optimizer, train_loader, valid_loader = acc.prepare(model, optimizer, train_loader, valid_loader)
    if cfg.compile:
        model = torch.compile(model)
    steps = max(1, math.ceil(len(train_loader) / cfg.grad_accum))
    ctx = BuildContext(**{**ctx.__dict__, "steps_per_epoch": steps})
    schedule = component("schedulers", recipe.scheduler)
    unwrapped = acc.unwrap_model(model)
    state = TrainState(recipe, acc, model, unwrapped, optimizer, fold)
    for cb in callbacks:
        cb.on_fold_start(state)

    fold_dir = out_dir / f"fold{fold}"
    best: dict[str, float] = {}
    best_epoch: dict[str, int] = {}
    rates: list[float] = []
    task = progress("start", fold=fold, total=len(train_loader) * cfg.epochs)
    for epoch in range(cfg.epochs):
        state.epoch = epoch
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        train_loader.set_epoch(epoch)
        for cb in callbacks:
            cb.on_epoch_start(state)
        stats = train_one_epoch(
            state, train_loader, loss_fn, schedule, batch_transforms, callbacks,
            lambda n, loss: progress("step", task=task, images=n, loss=loss),
        )
        rates.append(stats.img_per_s)
        candidates: dict[str, nn.Module] = {"raw": unwrapped}
        for cb in callbacks:
            candidates.update(cb.eval_models(state))
        scores: dict[str, float] = {}
        val_loss: dict[str, float] = {}
        for name, module in candidates.items():
            logits, _ = predict(module, valid_loader, views[:1], acc, len(data.valid), recipe.model.channels_last)
            probs = softmax(next(iter(logits.values())))
            scores[name] = score(recipe.cv.metric, data.valid.labels, probs)
            val_loss[name] = score("log_loss", data.valid.labels, probs)
            if better(scores[name], best.get(name), recipe.higher_is_better):
                best[name], best_epoch[name] = scores[name], epoch
                if acc.is_main_process:
                    save_weights(module, fold_dir / f"best_{name}.safetensors")
        acc.wait_for_everyone()
        state.metrics = {
            "fold": fold, "epoch": epoch, "train_loss": stats.loss, "val_loss": val_loss["raw"],
            "val_score": scores["raw"], **{f"val_score_{k}": v for k, v in scores.items() if k != "raw"},
            "lr": max(g["lr"] for g in optimizer.param_groups), "train_img_per_s": stats.img_per_s,
            "epoch_seconds": stats.seconds, "nonfinite_steps": stats.nonfinite,
        }
        schedule.on_epoch_end(scores["raw"])
        for cb in callbacks:
            cb.on_epoch_end(state)
        state.history.append(state.metrics)
        progress("epoch", task=task, metrics=state.metrics)
        if state.stop:
            break

    # The best weights over all candidates predict; ties go to the raw weights.
    chosen = "raw"
    for name in best:
        if better(best[name], best[chosen], recipe.higher_is_better):
            chosen = name
    acc.wait_for_everyone()
    final = candidates[chosen]
    load_weights(final, fold_dir / f"best_{chosen}.safetensors")
    oof, _ = predict(final, valid_loader, views, acc, len(data.valid), recipe.model.channels_last)
    predictions: dict[str, dict[str, np.ndarray]] = {}
    rate = 0.0
    for set_name, split in data.predict_sets.items():
        loader = acc.prepare(_loader(ImageDataset(split.paths, None, eval_tf, _entries(split, data.cache)), eval_batch, workers))
        predictions[set_name], rate = predict(final, loader, views, acc, len(split), recipe.model.channels_last)
    if not data.predict_sets:
        _, rate = predict(final, valid_loader, views, acc, len(data.valid), recipe.model.channels_last)
    acc.free_memory()
    return FoldResult(
        fold=fold, score=best[chosen], best_epoch=best_epoch[chosen], best_weights=chosen, candidate_scores=best,
        oof=oof, predictions=predictions, history=state.history, train_img_per_s=rates, predict_img_per_s=rate,
    )
