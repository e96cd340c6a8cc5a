"""Pick the fastest safe precision: bf16 autocast on a GPU that supports it or on a CPU with bf16
in hardware (AMX, or AVX-512 BF16), fp16 on older GPUs, fp32 elsewhere.

Measured on CPUs without AMX (bench/speed/defaults.py, bench/speed/throughput.py): on plain AVX2, emulated
bf16 ran at 0.15x fp32, and on AVX-512 without BF16 at 0.45x. On AVX-512 BF16 (AMD EPYC, torch
2.14.1) bf16 sped up the step on tensors in memory (resnet18 2.2x, Lite0 1.14x); Lite0's end-to-end
training, bound by its loader, ran at 0.99x, and at 1.21x once its depthwise convolutions trained
in fp32 (`harness.runtime.bf16_guard`, 2026-12-07); the CIFAR-10 recipe, fed from the decoded array,
trains 1.77x faster end to end with the same accuracy (bench/speed/variants.py, 2026-12-06). So
`auto` picks bf16 there too.

On AMX, on AVX-512 BF16 and on AVX-512 without BF16 alike, oneDNN's bf16 convolution gives a
garbage weight gradient when a strided convolution has a 1-pixel output side; every CPU bf16
model runs those calls in fp32 (`harness.runtime.bf16_guard`), so `auto` and `bf16` are safe on
every CPU. docs/precision.md has the table of what each machine gets, and why.

`HARNESS_AUTO_PRECISION=bf16|fp32|fp16` says what `auto` means on this machine, whatever its CPU:
the test suite sets fp32 so that no test depends on the CPU it drew, and
`HARNESS_AUTO_PRECISION=bf16 bash scripts/test.sh` runs the suite in bf16 on any CPU.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from harness.errors import HarnessError

AUTO_ENV = "HARNESS_AUTO_PRECISION"
CHOICES = ("bf16", "fp16", "fp32")


def has_amx(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists AMX bf16."""
    return "amx_bf16" in cpuinfo.split()


def has_native_bf16(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists bf16 in hardware (AMX or AVX-512 BF16): where `auto` picks
    bf16 on a CPU."""
    flags = cpuinfo.split()
    return "amx_bf16" in flags or "avx512_bf16" in flags


@cache
def _cpuinfo() -> str:
    """/proc/cpuinfo, read once a process ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


@cache
def cpu_has_amx() -> bool:
    return has_amx(_cpuinfo())


@cache
def cpu_has_native_bf16() -> bool:
    return has_native_bf16(_cpuinfo())


def _auto(cuda: bool, bf16_gpu: bool) -> str:
    forced = os.environ.get(AUTO_ENV, "").strip().lower()
    if forced:
        if forced not in CHOICES:
            raise HarnessError(f"{AUTO_ENV}={forced!r}: use one of {', '.join(CHOICES)}")
        return forced
    if cuda:
        return "bf16" if bf16_gpu else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def resolve(requested: str, cuda: bool, bf16_gpu: bool = True) -> str:
    """Accelerate's mixed_precision value ("no", "bf16", "fp16") for a recipe's `train.precision`."""
    if requested == "auto":
        requested = _auto(cuda, bf16_gpu)
    if requested == "fp16" and not cuda:
        raise HarnessError("train.precision=fp16 needs a GPU; on a CPU use bf16 or fp32")
    return "no" if requested == "fp32" else requested


def cpu_bf16(requested: str) -> bool:
    """Whether a CPU process autocasts in bf16 for this `train.precision`."""
    return requested == "bf16" or (requested == "auto" and _auto(cuda=False, bf16_gpu=False) == "bf16")
