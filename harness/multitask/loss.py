"""Training on every task at once. `TaskTargets` (a callback the core adds for `data.tasks`) puts
each further task's target on the batch as a one-hot extra, `task:NAME` (a zero row where an
image has no label for that task), so that a mixing batch transform (CutMix, Mixup) mixes them
with the same weights as the run's own target. `MultiTaskLoss` splits the model's side-by-side
logits: the recipe's loss on the run's own task, plus each further task's cross-entropy against
its (soft) target over the images labelled for it, weighted by `data.task_weights`. So each
image's loss reaches the tasks it is labelled for, and no others."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from harness.specs import Batch, Callback, FoldState, Loss


def extra_key(task: str) -> str:
    return f"task:{task}"


class TaskTargets(Callback):
    """Adds `task:NAME` one-hot targets (N, C_t) to each training batch, looked up by `batch.index`."""

    def __init__(self, names: Sequence[str], labels: Sequence[np.ndarray], sizes: Sequence[int]):
        self.names = tuple(names)
        self.sizes = tuple(sizes)
        self._labels = [torch.as_tensor(y, dtype=torch.int64) for y in labels]  # per training image, -1: none
        self._on: dict[str, list[torch.Tensor]] = {}

    def _device_labels(self, device: torch.device) -> list[torch.Tensor]:
        key = str(device)
        if key not in self._on:
            self._on[key] = [y.to(device) for y in self._labels]
        return self._on[key]

    def on_batch(self, state: FoldState, batch: Batch) -> Batch:
        extras = dict(batch.extras)
        for name, size, labels in zip(self.names, self.sizes, self._device_labels(batch.images.device), strict=True):
            y = labels[batch.index.to(labels.device)]
            onehot = F.one_hot(y.clamp(min=0), size).float() * (y >= 0).unsqueeze(1).float()
            extras[extra_key(name)] = onehot
        return batch.with_(extras=extras)


class MultiTaskLoss:
    def __init__(self, main: Loss, main_classes: int, names: Sequence[str], sizes: Sequence[int],
                 weights: Sequence[float]):
        self.main, self.c0 = main, main_classes
        self.names, self.sizes, self.weights = tuple(names), tuple(sizes), tuple(weights)

    def __call__(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        loss = self.main(logits[:, :self.c0], batch)
        start = self.c0
        for name, size, weight in zip(self.names, self.sizes, self.weights, strict=True):
            target = batch.extras[extra_key(name)]
            block = logits[:, start:start + size].float()
            start += size
            mass = target.sum(dim=1)  # 1 for a labelled image (mixed or not), 0 for one without a label
            per_image = -(target * F.log_softmax(block, dim=1)).sum(dim=1)
            loss = loss + weight * per_image.sum() / mass.sum().clamp(min=1.0)
        return loss
