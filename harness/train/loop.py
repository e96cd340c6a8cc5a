"""One training epoch. Reads top to bottom; no host-device sync per step (the loss is summed on
the device and read once every `train.log_every` steps for the progress bar)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from harness.specs import BatchTransform, Callback, Loss, Schedule
from harness.train.state import TrainState


@dataclass(frozen=True)
class EpochStats:
    loss: float
    images: int  # over all processes
    seconds: float
    nonfinite: int

    @property
    def img_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)


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
) -> EpochStats:
    acc, cfg = state.accelerator, state.recipe.train
    channels_last = state.recipe.model.channels_last
    state.model.train()
    loss_sum = torch.zeros((), device=acc.device)
    seen = torch.zeros((), device=acc.device, dtype=torch.long)
    nonfinite = torch.zeros((), device=acc.device, dtype=torch.long)
    images_seen = 0
    start = time.perf_counter()
    for step, (images, target, _) in enumerate(loader):
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        for transform in batch_transforms:
            images, target = transform(images, target, state.epoch)
        with acc.accumulate(state.model):
            with acc.autocast():
                logits = state.model(images)
            loss = loss_fn(logits, target)
            acc.backward(loss)
            if acc.sync_gradients:
                if cfg.clip_grad > 0:
                    acc.clip_grad_norm_(state.model.parameters(), cfg.clip_grad)
                set_learning_rates(state, schedule, callbacks)
            state.optimizer.step()
            state.optimizer.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            state.update += 1
            for cb in callbacks:
                cb.after_optimizer_step(state)
        finite = torch.isfinite(loss.detach())
        loss_sum += torch.where(finite, loss.detach().float(), 0.0) * images.shape[0]
        seen += finite.long() * images.shape[0]
        nonfinite += (~finite).long()
        images_seen += images.shape[0] * acc.num_processes
        shown = (loss_sum / seen.clamp(min=1)).item() if (step + 1) % cfg.log_every == 0 else None
        on_step(images.shape[0] * acc.num_processes, shown)
    seconds = time.perf_counter() - start
    totals = acc.reduce(torch.stack([loss_sum, seen.float(), nonfinite.float()]), reduction="sum")
    loss_total, count, bad = totals.tolist()
    return EpochStats(loss_total / max(count, 1.0), images_seen, seconds, int(bad))
