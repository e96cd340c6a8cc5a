"""Pick the fastest safe precision: bf16 autocast on a GPU that supports it or on a CPU with AMX,
fp16 on older GPUs, fp32 elsewhere (bf16 without AMX is slower than fp32 on a CPU)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from harness.errors import HarnessError


@cache
def cpu_has_amx() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags


def resolve(requested: str, cuda: bool, bf16_gpu: bool = True) -> str:
    """Accelerate's mixed_precision value ("no", "bf16", "fp16") for a recipe's `train.precision`."""
    if requested == "auto":
        if cuda:
            return "bf16" if bf16_gpu else "fp16"
        return "bf16" if cpu_has_amx() else "no"
    if requested == "fp16" and not cuda:
        raise HarnessError("train.precision=fp16 needs a GPU; on a CPU use bf16 or fp32")
    return "no" if requested == "fp32" else requested
