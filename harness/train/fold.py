"""Train and predict one fold: build what the recipe names, run the epochs with resumable
checkpoints, keep the best weights (raw or a callback's, such as EMA), then predict OOF, test and
holdout with every TTA view."""

from __future__ import annotations

import json
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

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.data.dataset import ImageDataset
from harness.metrics import better, score, softmax
from harness.outputs.checkpoint import load_weights, save_weights
from harness.plugin_manager import Plugins
from harness.train.build import build_component, build_components, make_loader, with_steps
from harness.train.checkpoints import Checkpoints, set_rng_state
from harness.train.debug import maybe_die
from harness.train.loop import train_one_epoch
from harness.train.nonfinite import settle
from harness.train.optim import build_optimizer
from harness.train.predict import predict
from harness.train.sampling import EpochTagged
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
    step_losses: list[float] = field(default_factory=list)


def _dataset(split: Split, tf: Any, cache: dict[Path, Path] | None, seed: int = 0, labels: bool = True) -> ImageDataset:
    entries = None if cache is None else [cache[p] for p in split.paths]
    return ImageDataset(split.paths, split.labels if labels else None, tf, entries, seed)


def run_fold(fold: int, recipe: Recipe, plugins: Plugins, acc: Accelerator, data: FoldData, num_classes: int,
             out_dir: Path, progress: Callable[..., Any], resume: bool = False) -> FoldResult:
    cfg = recipe.train
    seed = cfg.seed + 1000 * fold
    set_seed(seed)
    model = plugins.get("models", recipe.model.source).build(recipe.model, num_classes)
    if recipe.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    assert data.train.labels is not None and data.valid.labels is not None
    parts = build_components(recipe, plugins, model, data.train.labels, num_classes, seed, acc.num_processes)
    sampler = EpochTagged(parts.sampler)
    workers, pin, eval_batch = recipe.data.num_workers, recipe.data.pin_memory, cfg.eval_batch_size or 2 * cfg.batch_size
    train_ds = _dataset(data.train, parts.train_tf, data.cache, seed)
    train_loader = make_loader(train_ds, cfg.batch_size, workers, sampler, len(train_ds) > cfg.batch_size, pin)
    valid_loader = make_loader(_dataset(data.valid, parts.eval_tf, data.cache), eval_batch, workers, pin_memory=pin)
    lr = cfg.lr * (cfg.batch_size * acc.num_processes * cfg.grad_accum / 256 if cfg.scale_lr else 1.0)
    optimizer = build_optimizer(model, cfg, lr)
    model, optimizer, train_loader, valid_loader = acc.prepare(model, optimizer, train_loader, valid_loader)
    if cfg.compile:
        model = torch.compile(model)
    batches_per_epoch = len(train_loader)
    ctx = with_steps(parts.ctx, max(1, math.ceil(batches_per_epoch / cfg.grad_accum)))
    schedule = build_component(plugins, "schedulers", recipe.scheduler, ctx)
    unwrapped = acc.unwrap_model(model)
    state = TrainState(recipe, acc, model, unwrapped, optimizer, fold, parts.inputs)
    callbacks = list(parts.callbacks.values())
    for cb in callbacks:
        cb.on_fold_start(state)
    resumable = {"schedule": schedule, **parts.resumable()}

    def candidates() -> dict[str, nn.Module]:
        found: dict[str, nn.Module] = {"raw": unwrapped}
        for cb in callbacks:
            found.update(cb.eval_models(state))
        return found

    fold_dir = out_dir / f"fold{fold}"

    def say(text: str) -> None:
        progress("message", text=text)

    checkpoints = Checkpoints(fold_dir / "checkpoints", acc)
    best: dict[str, float] = {}
    best_epoch: dict[str, int] = {}
    rates: list[float] = []
    start_epoch, start_step = 0, 0

    def trainer_state(epoch: int, step: int) -> dict[str, Any]:
        settle(state, say)  # no unread non-finite flags behind a checkpoint
        return {"epoch": epoch, "step": step, "update": state.update, "best": best, "best_epoch": best_epoch,
                "history": state.history, "rates": rates, "step_losses": state.losses_as_floats(),
                "nonfinite_steps": state.nonfinite_steps, "epoch_nonfinite": state.epoch_nonfinite,
                "components": {k: v.state_dict() for k, v in resumable.items()},
                "scaler": acc.scaler.state_dict() if acc.scaler is not None else {}}  # fp16 on a GPU

    latest = checkpoints.latest() if resume else None
    if latest is not None:
        saved = checkpoints.load(latest, unwrapped, optimizer)
        start_epoch, start_step, state.update = saved["epoch"], saved["step"], saved["update"]
        best.update(saved["best"])
        best_epoch.update(saved["best_epoch"])
        state.history, rates[:] = list(saved["history"]), list(saved["rates"])
        state.step_losses, state.nonfinite_steps = list(saved["step_losses"]), saved["nonfinite_steps"]
        state.epoch_nonfinite = saved.get("epoch_nonfinite", 0)
        for key, component in resumable.items():
            component.load_state_dict(saved["components"][key])
        if acc.scaler is not None and saved.get("scaler"):
            acc.scaler.load_state_dict(saved["scaler"])
        say(f"fold {fold + 1}: resuming from {latest.name} (epoch {start_epoch + 1}, step {start_step})")
        set_rng_state(saved["rng"])

    every = cfg.checkpoint_every
    task = progress("start", fold=fold, total=batches_per_epoch * cfg.epochs, done=start_epoch * batches_per_epoch + start_step)
    for epoch in range(start_epoch, cfg.epochs):
        state.epoch = epoch
        first = start_step if epoch == start_epoch else 0
        train_loader.set_epoch(epoch)  # Accelerate's own epoch count, which it passes to the sampler
        sampler.set_epoch(epoch)
        sampler.skip_first(first * cfg.batch_size * acc.num_processes)
        for cb in callbacks:
            cb.on_epoch_start(state)

        def on_update(step: int, epoch: int = epoch) -> None:
            maybe_die(state.update, acc.process_index, fold)
            if every and state.update % every == 0 and step < batches_per_epoch:
                checkpoints.save(state.update, unwrapped, optimizer, trainer_state(epoch, step))

        stats = train_one_epoch(
            state, train_loader, parts.loss, schedule, list(parts.batch_transforms.values()), callbacks,
            lambda n, loss: progress("step", task=task, images=n, loss=loss), on_update, say, first_step=first,
        )
        rates.append(stats.img_per_s)
        scores, val_loss = {}, {}
        for name, module in candidates().items():
            logits, _ = predict(module, valid_loader, parts.views[:1], acc, len(data.valid), parts.inputs)
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
            "data_wait_fraction": stats.data_wait_fraction,
            "epoch_seconds": stats.seconds, "nonfinite_steps": stats.nonfinite,
        }
        schedule.on_epoch_end(scores["raw"])
        for cb in callbacks:
            cb.on_epoch_end(state)
        state.history.append(state.metrics)
        if acc.is_main_process:  # as it happens; rewritten whole (without replayed epochs) at the end
            with open(out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(state.metrics) + "\n")
        progress("epoch", task=task, metrics=state.metrics)
        stop = state.stop or epoch + 1 == cfg.epochs
        checkpoints.save(state.update, unwrapped, optimizer, trainer_state(cfg.epochs if stop else epoch + 1, 0))
        if stop:
            break

    # The best weights over all candidates predict; ties go to the raw weights.
    chosen = "raw"
    for name in best:
        if better(best[name], best[chosen], recipe.higher_is_better):
            chosen = name
    final = candidates()[chosen]
    load_weights(final, fold_dir / f"best_{chosen}.safetensors")
    # The prediction rate covers every set this fold predicts (OOF, test, holdout), each TTA view
    # counting as an image: views x images over the seconds they took, loader start-ups included.
    oof, oof_rate = predict(final, valid_loader, parts.views, acc, len(data.valid), parts.inputs)
    predicted = [(len(data.valid), oof_rate)]
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for set_name, split in data.predict_sets.items():
        loader = acc.prepare(make_loader(_dataset(split, parts.eval_tf, data.cache, labels=False), eval_batch, workers,
                                         pin_memory=pin))
        predictions[set_name], set_rate = predict(final, loader, parts.views, acc, len(split), parts.inputs)
        predicted.append((len(split), set_rate))
    views = len(parts.views)
    rate = sum(n * views for n, _ in predicted) / sum(n * views / r for n, r in predicted)
    acc.free_memory()
    return FoldResult(
        fold=fold, score=best[chosen], best_epoch=best_epoch[chosen], best_weights=chosen, candidate_scores=best,
        oof=oof, predictions=predictions, history=state.history, train_img_per_s=rates, predict_img_per_s=rate,
        step_losses=state.losses_as_floats(),
    )
