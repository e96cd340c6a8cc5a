"""Train and predict one fold: build what the recipe names, run the epochs with resumable
checkpoints, evaluate every candidate's weights (raw, and a callback's such as an EMA) and keep
the best, then predict OOF, test and holdout with every TTA view.

A callback that is a `PseudoLabeller` (the distillation teacher) may add unlabelled images to the
fold's training split: they follow the labelled ones in the dataset and in `state.train_ids`,
only ever train, and never score (validation and the OOF are the labelled fold alone)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.data.dataset import ImageDataset
from harness.data.split import TaskLabels
from harness.data.stores import ImageStore, check_batch_safe, dataset_for
from harness.multitask.build import build_model, split_tasks
from harness.multitask.loss import MultiTaskLoss, TaskTargets
from harness.multitask.model import all_tasks
from harness.outputs.checkpoint import load_weights
from harness.outputs.epoch_log import write_fold_log
from harness.outputs.fold_results import FoldResult
from harness.plugin_manager import Plugins
from harness.predict.fold_model import FoldModel, eval_batch_size, predict_split
from harness.predict.tta import predict
from harness.runtime import bf16_guard
from harness.runtime.loader import make_loader
from harness.runtime.trackers import epoch_scalars
from harness.specs import Callback
from harness.train.build import build_components, with_steps
from harness.train.checkpoints import Checkpoints, set_rng_state
from harness.train.debug import maybe_die
from harness.train.evaluate import candidates, choose_best, evaluate, keep_best
from harness.train.loop import train_one_epoch
from harness.train.nonfinite import settle
from harness.train.optim import build_optimizer, effective_lr
from harness.train.progress import FoldProgress
from harness.train.pseudo import PseudoLabeller, with_pseudo
from harness.train.resume import FoldResume
from harness.train.sampling import EpochTagged
from harness.train.state import TrainState


@dataclass
class FoldData:
    train: Split
    valid: Split
    predict_sets: dict[str, Split]  # "test", "holdout": predicted by the best weights
    store: ImageStore | None  # where screened images are read from (None: the files themselves)
    fold_of: Mapping[str, int] = field(default_factory=dict)  # the run's folds: labelled id -> fold
    tasks: tuple[TaskLabels, ...] = ()  # data.tasks: the further label sets, each with its own head


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
             out_dir: Path, progress: FoldProgress, resume: bool = False) -> FoldResult:
    """Set up, the epochs, finish: one fold trained (or resumed) and predicted."""
    run = FoldRun(fold, recipe, plugins, acc, data, num_classes, out_dir, progress)
    start_epoch, start_step = run.resume_point() if resume else (0, 0)
    run.task = progress.start(fold, run.batches_per_epoch * recipe.train.epochs,
                              start_epoch * run.batches_per_epoch + start_step)
    for epoch in range(start_epoch, recipe.train.epochs):
        if run.train_epoch(epoch, start_step if epoch == start_epoch else 0):
            break
    return run.finish()


class FoldRun:
    """Everything one fold trains with, built once from the recipe; its steps are the methods."""

    def __init__(self, fold: int, recipe: Recipe, plugins: Plugins, acc: Accelerator, data: FoldData, num_classes: int,
                 out_dir: Path, progress: FoldProgress):
        self.fold, self.recipe, self.acc, self.data, self.out_dir, self.progress = fold, recipe, acc, data, out_dir, progress
        self.num_classes = num_classes
        self.cfg = cfg = recipe.train
        self.seed = cfg.seed + 1000 * fold
        set_seed(self.seed)
        self.metric = plugins.metric(recipe.cv.metric)
        model = build_model(plugins, recipe.model, num_classes, tuple(len(t.classes) for t in data.tasks))
        if bf16_guard.active(acc):
            bf16_guard.guard(model)
        if recipe.model.channels_last:
            model = model.to(memory_format=torch.channels_last)
        assert data.train.labels is not None and data.valid.labels is not None
        self.parts = parts = build_components(recipe, plugins, model, data.train.labels, num_classes, self.seed,
                                              acc.num_processes, acc.process_index)
        train = self._with_pseudo_labels(plugins)
        task_targets = self._with_tasks(train, num_classes)
        self.sampler = EpochTagged(parts.sampler)
        train_loader, valid_loader = self._loaders(train)
        optimizer = build_optimizer(model, cfg, effective_lr(recipe))
        model, self.optimizer, self.train_loader, self.valid_loader = acc.prepare(model, optimizer, train_loader,
                                                                                  valid_loader)
        if cfg.compile:
            model = cast(torch.nn.Module, torch.compile(model))  # an OptimizedModule: still a module
        self.batches_per_epoch = len(self.train_loader)
        ctx = with_steps(parts.ctx, max(1, math.ceil(self.batches_per_epoch / cfg.grad_accum)))
        self.schedule = plugins.scheduler(recipe.scheduler, ctx)
        self.state = TrainState(recipe, acc, model, acc.unwrap_model(model), self.optimizer, fold, parts.inputs,
                                train.ids, fold_of=data.fold_of, loss=parts.loss, run_dir=out_dir)
        self.fold_dir = self.state.fold_dir
        if acc.is_main_process:  # callbacks may write here from on_fold_start on
            self.fold_dir.mkdir(parents=True, exist_ok=True)
        acc.wait_for_everyone()
        self.callbacks = list(parts.callbacks.values()) + task_targets
        for cb in self.callbacks:
            cb.on_fold_start(self.state)
        self.saved = FoldResume(self.state, {"schedule": self.schedule, **parts.resumable()}, acc.scaler)
        self.checkpoints = Checkpoints(self.fold_dir / "checkpoints", acc)
        self.task: Any = None

    def say(self, text: str) -> None:
        self.progress.message(text)

    def _with_pseudo_labels(self, plugins: Plugins) -> Split:
        """The fold's training split, followed by what a PseudoLabeller callback adds."""
        data, fold = self.data, self.fold
        pseudo = [cb.pseudo_split(fold, data.predict_sets.get("test"), self.acc, self.recipe)
                  for cb in self.parts.callbacks.values() if isinstance(cb, PseudoLabeller)]
        train = with_pseudo(data.train, [s for s in pseudo if s is not None and len(s)])
        assert train.labels is not None
        if train is not data.train:  # the sampler draws from the extended split
            self.parts.sampler = plugins.sampler(self.recipe.sampler, replace(self.parts.ctx, labels=train.labels))
            self.say(f"fold {fold + 1}: {len(train) - len(data.train)} pseudo-labelled images train with the "
                     f"{len(data.train)} labelled ones")
        return train

    def _with_tasks(self, train: Split, num_classes: int) -> list[Callback]:
        """With data.tasks: the loss of every task, and the callback that puts their targets on the batch."""
        tasks = self.data.tasks
        if not tasks:
            return []
        names, sizes = [t.name for t in tasks], [len(t.classes) for t in tasks]
        weights = self.recipe.data.task_weights or (1.0,) * len(tasks)
        self.parts.loss = MultiTaskLoss(self.parts.loss, num_classes, names, sizes, weights)
        return [TaskTargets(names, [t.of(train.ids) for t in tasks], sizes)]

    def _loaders(self, train: Split) -> tuple[Any, Any]:
        data, cfg, recipe = self.data, self.cfg, self.recipe
        workers, pin = recipe.data.num_workers, recipe.data.pin_memory
        if recipe.data.array:
            check_batch_safe(self.parts.train_tf, recipe.data.image_size)
        train_ds = dataset_for(data.store, train.paths, train.labels, self.parts.train_tf, self.seed)
        if data.store is not None and isinstance(train_ds, ImageDataset) and train_ds.cache_entries is None:
            # Pseudo-labelled images from outside the competition were not screened into the store.
            self.say(f"fold {self.fold + 1}: training images outside the competition: reading the files themselves")
        train_loader = make_loader(train_ds, cfg.batch_size, workers, self.sampler, len(train.paths) > cfg.batch_size, pin)
        valid_ds = dataset_for(data.store, data.valid.paths, data.valid.labels, self.parts.eval_tf)
        valid_loader = make_loader(valid_ds, eval_batch_size(recipe, self.acc.num_processes), workers, pin_memory=pin)
        return train_loader, valid_loader

    def resume_point(self) -> tuple[int, int]:
        """(epoch, step) to start from: the newest valid checkpoint's, restored into every part."""
        latest = self.checkpoints.latest()
        if latest is None:
            return 0, 0
        saved = self.checkpoints.load(latest, self.state.unwrapped, self.optimizer)
        epoch, step = self.saved.load_state_dict(saved)
        self.say(f"fold {self.fold + 1}: resuming from {latest.name} (epoch {epoch + 1}, step {step})")
        set_rng_state(saved["rng"])
        return epoch, step

    def checkpoint(self, epoch: int, step: int) -> None:
        settle(self.state, self.say)  # no unread non-finite flags behind a checkpoint
        if not self.cfg.checkpoints:
            return
        self.checkpoints.save(self.state.update, self.state.unwrapped, self.optimizer, self.saved.state_dict(epoch, step))

    def after_update(self, epoch: int, step: int) -> None:
        """After each optimizer update: the test suite's crash point, and `train.checkpoint_every`."""
        maybe_die(self.state.update, self.acc.process_index, self.fold)
        every = self.cfg.checkpoint_every
        if every and self.cfg.checkpoints and self.state.update % every == 0 and step < self.batches_per_epoch:
            self.checkpoint(epoch, step)

    def on_step(self, images: int, loss: float | None) -> None:
        self.progress.step(self.task, images, loss)

    def train_epoch(self, epoch: int, first: int) -> bool:
        """Train epoch `epoch` from its step `first`, evaluate, log, let callbacks stop it and
        checkpoint; True when it is the fold's last epoch."""
        state, cfg = self.state, self.cfg
        state.epoch = epoch
        self.train_loader.set_epoch(epoch)  # Accelerate's own epoch count, which it passes to the sampler
        self.sampler.set_epoch(epoch)
        self.sampler.skip_first(first * cfg.batch_size)  # the batch is global: the same draw on any number of processes
        for cb in self.callbacks:
            cb.on_epoch_start(state)
        stats = train_one_epoch(state, self.train_loader, self.parts.loss, self.schedule,
                                list(self.parts.batch_transforms.values()), self.callbacks, self.on_step,
                                partial(self.after_update, epoch), self.say, first_step=first)
        state.rates.append(stats.img_per_s)
        scores = self._evaluate(stats)
        self.schedule.on_epoch_end(scores["raw"])
        for cb in self.callbacks:
            cb.on_epoch_end(state)
        agree_on_stop(state)
        self._log_epoch()
        last = state.stop or epoch + 1 == cfg.epochs
        if state.stop and epoch + 1 < cfg.epochs:
            self.say(f"fold {self.fold + 1}: stopped after epoch {epoch + 1}" + (" (the whole run)" if state.stop_run else "")
                     + (f": {state.stop_reason}" if state.stop_reason else ""))
        if state.stop_discard:
            self.acc.free_memory()
            raise RunDiscarded(state.stop_reason or "discarded by a callback")
        self.checkpoint(cfg.epochs if last else epoch + 1, 0)
        return last

    def _evaluate(self, stats: Any) -> dict[str, float]:
        """Score every candidate's weights, keep each one's best, and fill `state.metrics`."""
        state, labels = self.state, self.data.valid.labels
        assert labels is not None
        models = candidates(state, self.callbacks)
        scores, val_loss = evaluate(models, self.valid_loader, self.parts.views[0], self.acc, labels,
                                    self.metric, self.parts.inputs)
        keep_best(state, scores, models, self.metric, lambda name: self.fold_dir / f"best_{name}.safetensors",
                  last=self.cfg.keep == "last")
        state.metrics = {
            "fold": self.fold, "epoch": state.epoch, "train_loss": stats.loss, "val_loss": val_loss["raw"],
            "val_score": scores["raw"], **{f"val_score_{k}": v for k, v in scores.items() if k != "raw"},
            "lr": max(g["lr"] for g in self.optimizer.param_groups), "train_img_per_s": stats.img_per_s,
            "data_wait_fraction": stats.data_wait_fraction,
            "epoch_seconds": stats.seconds, "nonfinite_steps": stats.nonfinite,
        }
        return scores

    def _log_epoch(self) -> None:
        state = self.state
        state.history.append(state.metrics)
        self.acc.log(epoch_scalars(state.metrics), step=state.epoch)  # train.log_with's trackers; a no-op without them
        if self.acc.is_main_process:
            write_fold_log(self.out_dir, self.fold, state.history)
        self.progress.epoch(self.task, state.metrics)

    def finish(self) -> FoldResult:
        """The best candidate's weights predict OOF, test and holdout with every TTA view."""
        state, acc, data = self.state, self.acc, self.data
        chosen = choose_best(state.best, self.metric)
        final = candidates(state, self.callbacks)[chosen]
        load_weights(final, self.fold_dir / f"best_{chosen}.safetensors")
        fm = FoldModel(self.fold, final, self.parts.eval_tf, self.parts.views, self.parts.inputs, chosen)
        # The prediction rate covers every set this fold predicts (OOF, test, holdout), each TTA view
        # counting as an image: views x images over the seconds they took, loader start-ups included.
        with all_tasks(final):  # every task's logits, side by side: the run's own task's first
            oof, oof_rate = predict(final, self.valid_loader, self.parts.views, acc, len(data.valid), self.parts.inputs)
            predicted = [(len(data.valid), oof_rate)]
            predictions: dict[str, dict[str, np.ndarray]] = {}
            for set_name, split in data.predict_sets.items():
                predictions[set_name], set_rate = predict_split(fm, split, acc, self.recipe, data.store)
                predicted.append((len(split), set_rate))
        sizes = [len(t.classes) for t in data.tasks]
        oof, task_oof = split_tasks(oof, self.num_classes, sizes)
        tasks = {t.name: {"oof": logits} for t, logits in zip(data.tasks, task_oof, strict=True)}
        for set_name in list(predictions):
            predictions[set_name], per_task = split_tasks(predictions[set_name], self.num_classes, sizes)
            for t, logits in zip(data.tasks, per_task, strict=True):
                tasks[t.name][set_name] = logits
        views = len(self.parts.views)
        seconds = sum(n * views / r for n, r in predicted)
        rate = sum(n * views for n, _ in predicted) / seconds
        acc.free_memory()
        return FoldResult(
            fold=self.fold, score=state.best[chosen], best_epoch=state.best_epoch[chosen], best_weights=chosen,
            candidate_scores=state.best, oof=oof, predictions=predictions, history=state.history,
            train_img_per_s=state.rates, predict_img_per_s=rate, predict_seconds=seconds, step_losses=state.losses_as_floats(),
            stop_reason=state.stop_reason if state.stop else "", stop_run=state.stop_run, tasks=tasks,
        )
