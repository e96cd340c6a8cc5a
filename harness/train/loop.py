"""One training epoch. Reads top to bottom. No host-device sync per step: losses are summed on
the device, updates with a non-finite loss or gradient are skipped on the device
(harness/train/nonfinite.py), and the host reads both every `train.log_every` steps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from harness.runtime.allocator import before_fork
from harness.specs import Batch, BatchTransform, Callback, Loss, Schedule
from harness.train.nonfinite import UpdateGuard, settle
from harness.train.state import TrainState


@dataclass(frozen=True)
class EpochStats:
    loss: float
    images: int  # over all processes
    seconds: float
    nonfinite: int
    data_seconds: float = 0.0  # waiting for the next batch

    @property
    def img_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)

    @property
    def data_wait_fraction(self) -> float:
        """Near 0: the loader keeps up; near 1: the step is starved of data."""
        return self.data_seconds / max(self.seconds, 1e-9)


def set_learning_rates(state: TrainState, schedule: Schedule, callbacks: Sequence[Callback]) -> None:
    factor = schedule.factor(state.update)
    for group in state.optimizer.param_groups:
        mult = math.prod(cb.lr_factor(state, group["part"]) for cb in callbacks)
        group["lr"] = group["base_lr"] * factor * mult


def train_one_epoch(
    state: TrainState,
    loader: DataLoader,
    loss_fn: Loss,
    schedule: Schedule,
    batch_transforms: Sequence[BatchTransform],
    callbacks: Sequence[Callback],
    on_step: Callable[[int, float | None], None],
    on_update: Callable[[int], None] = lambda step: None,
    say: Callable[[str], None] = print,
    first_step: int = 0,
) -> EpochStats:
    """`first_step` > 0 resumes mid-epoch: the loader already leaves those batches out.
    `on_update(step)` runs after each optimizer update (checkpointing)."""
    acc, cfg = state.accelerator, state.recipe.train
    state.model.train()
    if state.recipe.model.freeze_bn:
        for module in state.model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()  # the statistics stay those of pretraining; the affine weights still learn
    loss_sum = torch.zeros((), device=acc.device)
    seen = torch.zeros((), device=acc.device)
    guard = UpdateGuard(state, say)
    images_seen = 0
    if first_step == 0:
        state.epoch_nonfinite = 0
    before_fork(loader)
    start = waiting_since = time.perf_counter()
    data_seconds = 0.0
    for step, (images, target, index) in enumerate(loader, start=first_step):
        data_seconds += time.perf_counter() - waiting_since
        batch = Batch(state.inputs(images), target, index)
        for cb in callbacks:
            batch = cb.on_batch(state, batch)
        for transform in batch_transforms:
            batch = transform(batch, state.epoch)
        with acc.accumulate(state.model):
            with acc.autocast():
                logits = state.model(batch.images)
            loss = loss_fn(logits, batch)
            flag = guard.loss(loss, step)
            if flag is not None:
                acc.backward(loss)
                loss_sum += torch.where(flag > 0, 0.0, loss.detach().float()) * len(batch)
                seen += (1.0 - flag) * len(batch)
            state.step_losses.append(loss.detach().float())
            if acc.sync_gradients and guard.may_update(step):
                if cfg.clip_grad > 0:
                    acc.clip_grad_norm_(state.model.parameters(), cfg.clip_grad)
                set_learning_rates(state, schedule, callbacks)
                state.optimizer.step()
            if acc.sync_gradients or guard.bad:
                state.optimizer.zero_grad(set_to_none=True)
        images_seen += len(batch) * acc.num_processes
        if acc.sync_gradients:
            state.update += 1  # a skipped update keeps its slot in the schedule
            for cb in callbacks:
                cb.after_optimizer_step(state)
            on_update(step + 1)
            guard.next_window()
        shown = None
        if (step + 1) % cfg.log_every == 0:
            settle(state, say)
            shown = (loss_sum / seen.clamp(min=1)).item()
        on_step(len(batch) * acc.num_processes, shown)
        waiting_since = time.perf_counter()
    settle(state, say)
    seconds = time.perf_counter() - start
    totals = acc.reduce(torch.stack([loss_sum, seen]), reduction="sum")
    loss_total, count = totals.tolist()
    return EpochStats(loss_total / max(count, 1.0), images_seen, seconds, state.epoch_nonfinite, data_seconds)
