"""Whether this process trains on a GPU: one must be there, the launch must not have asked for the
CPU (`accelerate launch --cpu`), and there must be a GPU for each process on this machine. And
where cuDNN may time its kernels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def autotune_only_if(full_batch: bool) -> Iterator[None]:
    """With `train.cudnn_benchmark`, cuDNN times every convolution algorithm the first time it sees
    an input shape. Worth it for the shapes a run repeats; not for the short last batch of a
    prediction set, which has a new shape in every set and fold and costs seconds of timing on a
    resnet50 (predictions ran 2.6x faster on an H100 with it and pinned memory off, on a 153-image
    holdout; bench/results/throughput.jsonl). Such batches use cuDNN's heuristics instead."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = before and full_batch
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def host_to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`t` (on the host) on `device`: on a GPU through pinned memory without blocking the host (a
    copy from pageable memory would wait for the GPU to finish its queue); unchanged on a CPU."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
