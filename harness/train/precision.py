"""Pick the fastest safe precision: bf16 autocast on a GPU that supports it or on a CPU with AMX,
fp16 on older GPUs, fp32 elsewhere.

Measured on CPUs without AMX (bench/defaults.py, bench/throughput.py): on plain AVX2, emulated
bf16 ran at 0.15x fp32. On AVX-512 BF16 (AMD EPYC, torch 2.14.1) bf16 sped up the step on
tensors in memory (resnet18 2.2x, Lite0 1.14x) but not Lite0's end-to-end training (0.99x), and
its convolution weight gradient is wrong for a 1-pixel input with a strided 3x3 or 5x5 kernel
(garbage up to 1e36, different on every call; fp32 is exact): small images reach such maps in
the last stage of a ResNet. So `auto` keeps fp32 there; `precision = "bf16"` still asks for it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from harness.errors import HarnessError


def has_amx(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists AMX bf16, the one CPU feature for which `auto` picks bf16
    (see above for avx512_bf16)."""
    return "amx_bf16" in cpuinfo.split()


@cache
def cpu_has_amx() -> bool:
    try:
        return has_amx(Path("/proc/cpuinfo").read_text())
    except OSError:
        return False


def resolve(requested: str, cuda: bool, bf16_gpu: bool = True) -> str:
    """Accelerate's mixed_precision value ("no", "bf16", "fp16") for a recipe's `train.precision`."""
    if requested == "auto":
        if cuda:
            return "bf16" if bf16_gpu else "fp16"
        return "bf16" if cpu_has_amx() else "no"
    if requested == "fp16" and not cuda:
        raise HarnessError("train.precision=fp16 needs a GPU; on a CPU use bf16 or fp32")
    return "no" if requested == "fp32" else requested
