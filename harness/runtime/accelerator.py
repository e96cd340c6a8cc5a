"""The one Accelerator a run is made with, and its data-loader configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from harness.config.schema import Recipe
from harness.runtime import precision, trackers
from harness.runtime.device import on_gpu


def loading_config(cuda: bool, pin: bool) -> Any:
    from accelerate import DataLoaderConfiguration

    # split_batches: each loader batch is the global batch, cut into one equal piece per
    # process, so a recipe means the same updates on any number of processes.
    return DataLoaderConfiguration(non_blocking=cuda and pin, split_batches=True)


def make_accelerator(recipe: Recipe, out_dir: Path | None = None) -> Any:
    """The Accelerator a run trains and predicts with: the recipe's precision (auto resolved for
    this machine), determinism, loader settings and trackers. `harness predict` and every other
    consumer of a run's models use it too, so that they predict as the run did."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    cuda = on_gpu()
    bf16_gpu = cuda and torch.cuda.is_bf16_supported()
    mp = precision.resolve(recipe.train.precision, cuda, bf16_gpu)
    deterministic = recipe.train.deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition for reproducible results
    torch.use_deterministic_algorithms(deterministic)
    if cuda:
        torch.backends.cudnn.benchmark = recipe.train.cudnn_benchmark and not deterministic
        torch.backends.cudnn.deterministic = deterministic
    # Batches from pinned memory go to the GPU without the host waiting for the copy (a blocking
    # copy would sync host and GPU every step).
    loading = loading_config(cuda, recipe.data.pin_memory)
    # Accelerate keeps one precision per process and refuses another; a second run in the same
    # process (the Python API, tuning trials) may want another. The process group stays as it is.
    AcceleratorState._reset_state(reset_partial_state=False)
    tracked = trackers.logging_dir(recipe.train.log_with, out_dir)  # None: no trackers, or no run folder
    return Accelerator(mixed_precision=mp, gradient_accumulation_steps=recipe.train.grad_accum, cpu=not cuda,
                       dataloader_config=loading, log_with=list(recipe.train.log_with) if tracked else None,
                       project_dir=tracked)
