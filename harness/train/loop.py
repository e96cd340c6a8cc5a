"""One training epoch. Reads top to bottom. The only host-device syncs per step are the loss's
finiteness check (every rank must take the same action on NaN/inf) and the progress read every
`train.log_every` steps; losses are summed on the device."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from harness.errors import HarnessError
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


def _nonfinite_everywhere(acc, loss: torch.Tensor) -> bool:
    bad = (~torch.isfinite(loss.detach())).float()
    if acc.num_processes > 1:
        bad = acc.reduce(bad, reduction="sum")
    return bool(bad.item() > 0)


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
    channels_last = state.recipe.model.channels_last
    state.model.train()
    if state.recipe.model.freeze_bn:
        for module in state.model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()  # the statistics stay those of pretraining; the affine weights still learn
    loss_sum = torch.zeros((), device=acc.device)
    seen = torch.zeros((), device=acc.device)
    images_seen, nonfinite, window_bad = 0, 0, False
    start = time.perf_counter()
    for step, (images, target, _) in enumerate(loader, start=first_step):
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        for transform in batch_transforms:
            images, target = transform(images, target, state.epoch)
        with acc.accumulate(state.model):
            with acc.autocast():
                logits = state.model(images)
            loss = loss_fn(logits, target)
            if _nonfinite_everywhere(acc, loss):
                window_bad, nonfinite = True, nonfinite + 1
                state.nonfinite_steps += 1
                say(f"non-finite loss at fold {state.fold} epoch {state.epoch + 1} step {step} "
                    f"(update {state.update}): step skipped on every process")
                if state.nonfinite_steps >= cfg.max_nonfinite:
                    raise HarnessError(f"stopping: {state.nonfinite_steps} non-finite losses in a row "
                                       f"(train.max_nonfinite={cfg.max_nonfinite}); last at epoch {state.epoch + 1} step {step}")
            else:
                state.nonfinite_steps = 0
                acc.backward(loss)
                loss_sum += loss.detach().float() * images.shape[0]
                seen += images.shape[0]
            state.step_losses.append(loss.detach().float())
            if acc.sync_gradients and not window_bad:
                if cfg.clip_grad > 0:
                    acc.clip_grad_norm_(state.model.parameters(), cfg.clip_grad)
                set_learning_rates(state, schedule, callbacks)
                state.optimizer.step()
            if acc.sync_gradients or window_bad:
                state.optimizer.zero_grad(set_to_none=True)
        images_seen += images.shape[0] * acc.num_processes
        if acc.sync_gradients:
            if not window_bad:
                state.update += 1
                for cb in callbacks:
                    cb.after_optimizer_step(state)
                on_update(step + 1)
            window_bad = False
        shown = (loss_sum / seen.clamp(min=1)).item() if (step + 1) % cfg.log_every == 0 else None
        on_step(images.shape[0] * acc.num_processes, shown)
    seconds = time.perf_counter() - start
    totals = acc.reduce(torch.stack([loss_sum, seen]), reduction="sum")
    loss_total, count = totals.tolist()
    return EpochStats(loss_total / max(count, 1.0), images_seen, seconds, nonfinite)
