"""Whether this process trains on a GPU: one must be there, the launch must not have asked for the
CPU (`accelerate launch --cpu`), and there must be a GPU for each process on this machine."""

from __future__ import annotations

import os

import torch

from harness.errors import HarnessError


def on_gpu() -> bool:
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return False
    if not torch.cuda.is_available():
        return False
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if local > torch.cuda.device_count():
        raise HarnessError(f"{local} processes on this machine but {torch.cuda.device_count()} GPU(s): launch at most "
                           "one process per GPU (accelerate launch --num_processes), or hide the GPUs "
                           "(CUDA_VISIBLE_DEVICES=) to train on CPU processes")
    return True
