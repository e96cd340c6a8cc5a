"""Predict a dataset with every TTA view from one decoded batch, exactly once per sample even
under several processes (`gather_for_metrics` drops the padding that evens out the shards)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader

from harness.runtime.allocator import before_fork
from harness.runtime.device import autotune_only_if
from harness.runtime.inputs import ModelInput
from harness.specs import TTAView


@torch.inference_mode()
def predict(
    model: nn.Module,
    loader: DataLoader,
    views: Sequence[TTAView],
    accelerator: Accelerator,
    n: int,
    inputs: ModelInput | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Return ({view name: logits (n, C) in dataset order}, images per second counting each view)."""
    was_training = model.training
    model.eval()
    outs: list[torch.Tensor] = []
    idxs: list[torch.Tensor] = []
    full = loader.batch_size or getattr(loader.batch_sampler, "batch_size", None)  # a sharded sampler keeps it
    before_fork(loader)
    start = time.perf_counter()
    for images, _, idx in loader:
        if inputs is not None:
            images = inputs(images)
        # Each decoded batch serves every view; each view runs at the plain batch size, since a
        # stacked n-times batch measured 1.33x slower per image on a CPU (bench/speed/overhead.py).
        with accelerator.autocast(), autotune_only_if(images.shape[0] == full):
            logits = torch.stack([model(v.apply(images)).float() for v in views], dim=1)  # (B, V, C)
        logits, idx = accelerator.gather_for_metrics((logits.contiguous(), idx))
        outs.append(logits.cpu())
        idxs.append(idx.cpu())
    seconds = time.perf_counter() - start
    model.train(was_training)
    all_logits = torch.cat(outs).numpy()
    order = torch.cat(idxs).numpy()
    if len(order) != n or len(np.unique(order)) != n:
        raise RuntimeError(f"prediction gathered {len(order)} rows ({len(np.unique(order))} unique) for {n} samples")
    result = np.empty_like(all_logits)
    result[order] = all_logits
    rate = n * len(views) / max(seconds, 1e-9)
    return {v.name: result[:, i] for i, v in enumerate(views)}, rate
