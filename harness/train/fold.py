"""Train and predict one fold: build what the recipe names, run the epochs with resumable
checkpoints, evaluate every candidate's weights (raw, and a callback's such as an EMA) and keep
the best, then predict OOF, test and holdout with every TTA view.

A callback that is a `PseudoLabeller` (the distillation teacher) may add unlabelled images to the
fold's training split: they follow the labelled ones in the dataset and in `state.train_ids`,
only ever train, and never score (validation and the OOF are the labelled fold alone)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.data.dataset import ImageDataset
from harness.errors import HarnessError
from harness.outputs.checkpoint import load_weights
from harness.outputs.fold_results import FoldResult
from harness.plugin_manager import Plugins
from harness.train import bf16_guard
from harness.train.build import build_components, make_loader, with_steps
from harness.train.checkpoints import Checkpoints, set_rng_state
from harness.train.debug import maybe_die
from harness.train.evaluate import candidates, choose_best, evaluate, keep_best
from harness.train.inference import FoldModel, eval_batch_size, predict_split
from harness.train.loop import train_one_epoch
from harness.train.nonfinite import settle
from harness.train.optim import build_optimizer
from harness.train.predict import predict
from harness.train.resume import FoldResume
from harness.train.sampling import EpochTagged
from harness.train.state import TrainState
from harness.train.trackers import epoch_scalars


@dataclass
class FoldData:
    train: Split
    valid: Split
    predict_sets: dict[str, Split]  # "test", "holdout": predicted by the best weights
    cache: dict[Path, Path] | None  # image path -> cache entry
    fold_of: Mapping[str, int] = field(default_factory=dict)  # the run's folds: labelled id -> fold


@runtime_checkable
class PseudoLabeller(Protocol):
    """A callback that adds unlabelled images to fold `fold`'s training split. `pseudo_split` runs
    once per fold, after the components are built and before `on_fold_start`; `test` is the
    competition's unlabelled test set (None when it has none). It returns the images to add, with
    `labels` the int class each one trains as (what a sampler sees; a callback may give soft
    targets in `on_batch`), or None. Their ids must not be labelled ids of the run."""

    def pseudo_split(self, fold: int, test: Split | None, acc: Accelerator, recipe: Recipe) -> Split | None: ...


def with_pseudo(train: Split, extra: Sequence[Split]) -> Split:
    """The labelled training split followed by pseudo-labelled images."""
    if not extra:
        return train
    ids = tuple(i for s in extra for i in s.ids)
    clash = set(train.ids).intersection(ids)
    if clash:
        raise HarnessError(f"pseudo-labelled image id(s) {sorted(clash)[:3]} are also labelled training ids")
    labels = [s.labels for s in extra]
    assert train.labels is not None and all(x is not None for x in labels), "pseudo-labelled images need int labels"
    return Split(train.ids + ids, train.paths + tuple(p for s in extra for p in s.paths),
                 np.concatenate([train.labels, *labels]))


def effective_lr(recipe: Recipe) -> float:
    """`train.lr`, times global batch / 256 with `train.scale_lr` (the global batch is the same
    on any number of processes)."""
    cfg = recipe.train
    return cfg.lr * (cfg.batch_size * cfg.grad_accum / 256 if cfg.scale_lr else 1.0)


def agree_on_stop(state: TrainState) -> None:
    """The main process decides whether to stop, and every rank follows, so none waits on a
    collective that another skipped."""
    acc = state.accelerator
    if acc.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        decision = [state.stop, state.stop_run, state.stop_discard, state.stop_reason]
        broadcast_object_list(decision)
        state.stop, state.stop_run, state.stop_discard = (bool(d) for d in decision[:3])
        state.stop_reason = str(decision[3])


class RunDiscarded(Exception):
    """A callback ended the run with `request_stop(..., discard=True)`: raised on every rank after
    the epoch in which they agreed, before any prediction."""


def run_fold(fold: int, recipe: Recipe, plugins: Plugins, acc: Accelerator, data: FoldData, num_classes: int,
             out_dir: Path, progress: Callable[..., Any], resume: bool = False) -> FoldResult:
    cfg = recipe.train
    seed = cfg.seed + 1000 * fold
    set_seed(seed)
    metric = plugins.metric(recipe.cv.metric)
    model = plugins.model(recipe.model.source).build(recipe.model, num_classes)
    if acc.device.type == "cpu" and acc.mixed_precision == "bf16":
        bf16_guard.guard(model)
    if recipe.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    assert data.train.labels is not None and data.valid.labels is not None
    parts = build_components(recipe, plugins, model, data.train.labels, num_classes, seed, acc.num_processes,
                             acc.process_index)
    pseudo = [cb.pseudo_split(fold, data.predict_sets.get("test"), acc, recipe) for cb in parts.callbacks.values()
              if isinstance(cb, PseudoLabeller)]
    train = with_pseudo(data.train, [s for s in pseudo if s is not None and len(s)])
    assert train.labels is not None
    if train is not data.train:  # the sampler draws from the extended split
        parts.sampler = plugins.sampler(recipe.sampler, replace(parts.ctx, labels=train.labels))
        progress("message", text=f"fold {fold + 1}: {len(train) - len(data.train)} pseudo-labelled images train with the "
                                 f"{len(data.train)} labelled ones")
    sampler = EpochTagged(parts.sampler)
    workers, pin = recipe.data.num_workers, recipe.data.pin_memory
    # Pseudo-labelled images from outside the competition were not screened into the cache.
    cached = data.cache is not None and all(p in data.cache for p in train.paths)
    entries = [data.cache[p] for p in train.paths] if cached and data.cache is not None else None
    if data.cache is not None and not cached:
        progress("message", text=f"fold {fold + 1}: training images outside the competition: reading them without the cache")
    train_ds = ImageDataset(train.paths, train.labels, parts.train_tf, entries, seed)
    train_loader = make_loader(train_ds, cfg.batch_size, workers, sampler, len(train_ds) > cfg.batch_size, pin)
    valid_entries = None if data.cache is None else [data.cache[p] for p in data.valid.paths]
    valid_loader = make_loader(ImageDataset(data.valid.paths, data.valid.labels, parts.eval_tf, valid_entries),
                               eval_batch_size(recipe, acc.num_processes), workers, pin_memory=pin)
    optimizer = build_optimizer(model, cfg, effective_lr(recipe))
    model, optimizer, train_loader, valid_loader = acc.prepare(model, optimizer, train_loader, valid_loader)
    if cfg.compile:
        model = cast(torch.nn.Module, torch.compile(model))  # an OptimizedModule: still a module
    batches_per_epoch = len(train_loader)
    ctx = with_steps(parts.ctx, max(1, math.ceil(batches_per_epoch / cfg.grad_accum)))
    schedule = plugins.scheduler(recipe.scheduler, ctx)
    state = TrainState(recipe, acc, model, acc.unwrap_model(model), optimizer, fold, parts.inputs, train.ids,
                       fold_of=data.fold_of, loss=parts.loss)
    callbacks = list(parts.callbacks.values())
    for cb in callbacks:
        cb.on_fold_start(state)
    saved_state = FoldResume(state, {"schedule": schedule, **parts.resumable()}, acc.scaler)
    fold_dir = out_dir / f"fold{fold}"

    def say(text: str) -> None:
        progress("message", text=text)

    checkpoints = Checkpoints(fold_dir / "checkpoints", acc)

    def checkpoint(epoch: int, step: int) -> None:
        settle(state, say)  # no unread non-finite flags behind a checkpoint
        checkpoints.save(state.update, state.unwrapped, optimizer, saved_state.state_dict(epoch, step))

    start_epoch, start_step = 0, 0
    latest = checkpoints.latest() if resume else None
    if latest is not None:
        saved = checkpoints.load(latest, state.unwrapped, optimizer)
        start_epoch, start_step = saved_state.load_state_dict(saved)
        say(f"fold {fold + 1}: resuming from {latest.name} (epoch {start_epoch + 1}, step {start_step})")
        set_rng_state(saved["rng"])

    every = cfg.checkpoint_every
    task = progress("start", fold=fold, total=batches_per_epoch * cfg.epochs, done=start_epoch * batches_per_epoch + start_step)
    for epoch in range(start_epoch, cfg.epochs):
        state.epoch = epoch
        first = start_step if epoch == start_epoch else 0
        train_loader.set_epoch(epoch)  # Accelerate's own epoch count, which it passes to the sampler
        sampler.set_epoch(epoch)
        sampler.skip_first(first * cfg.batch_size)  # the batch is global: the same draw on any number of processes
        for cb in callbacks:
            cb.on_epoch_start(state)

        def on_update(step: int, epoch: int = epoch) -> None:
            maybe_die(state.update, acc.process_index, fold)
            if every and state.update % every == 0 and step < batches_per_epoch:
                checkpoint(epoch, step)

        stats = train_one_epoch(
            state, train_loader, parts.loss, schedule, list(parts.batch_transforms.values()), callbacks,
            lambda n, loss: progress("step", task=task, images=n, loss=loss), on_update, say, first_step=first,
        )
        state.rates.append(stats.img_per_s)
        models = candidates(state, callbacks)
        scores, val_loss = evaluate(models, valid_loader, parts.views[0], acc, data.valid.labels, metric,
                                    parts.inputs)
        keep_best(state, scores, models, metric, lambda name: fold_dir / f"best_{name}.safetensors",
                  last=cfg.keep == "last")
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
        agree_on_stop(state)
        state.history.append(state.metrics)
        acc.log(epoch_scalars(state.metrics), step=epoch)  # train.log_with's trackers; a no-op without them
        if acc.is_main_process:  # as it happens; rewritten whole (without replayed epochs) at the end
            with open(out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(state.metrics) + "\n")
        progress("epoch", task=task, metrics=state.metrics)
        last = state.stop or epoch + 1 == cfg.epochs
        if state.stop and epoch + 1 < cfg.epochs:
            say(f"fold {fold + 1}: stopped after epoch {epoch + 1}" + (" (the whole run)" if state.stop_run else "")
                + (f": {state.stop_reason}" if state.stop_reason else ""))
        if state.stop_discard:
            acc.free_memory()
            raise RunDiscarded(state.stop_reason or "discarded by a callback")
        checkpoint(cfg.epochs if last else epoch + 1, 0)
        if last:
            break

    chosen = choose_best(state.best, metric)
    final = candidates(state, callbacks)[chosen]
    load_weights(final, fold_dir / f"best_{chosen}.safetensors")
    fm = FoldModel(fold, final, parts.eval_tf, parts.views, parts.inputs, chosen)
    # The prediction rate covers every set this fold predicts (OOF, test, holdout), each TTA view
    # counting as an image: views x images over the seconds they took, loader start-ups included.
    oof, oof_rate = predict(final, valid_loader, parts.views, acc, len(data.valid), parts.inputs)
    predicted = [(len(data.valid), oof_rate)]
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for set_name, split in data.predict_sets.items():
        predictions[set_name], set_rate = predict_split(fm, split, acc, recipe, data.cache)
        predicted.append((len(split), set_rate))
    views = len(parts.views)
    rate = sum(n * views for n, _ in predicted) / sum(n * views / r for n, r in predicted)
    acc.free_memory()
    return FoldResult(
        fold=fold, score=state.best[chosen], best_epoch=state.best_epoch[chosen], best_weights=chosen,
        candidate_scores=state.best, oof=oof, predictions=predictions, history=state.history,
        train_img_per_s=state.rates, predict_img_per_s=rate, step_losses=state.losses_as_floats(),
        stop_reason=state.stop_reason if state.stop else "", stop_run=state.stop_run,
    )
