"""What training and prediction both run on: the device, the precision (and the CPU bf16 guard),
the one Accelerator, the data loaders, and the step that turns a batch into the model's input.
The names below are the public face."""

from harness.runtime import bf16_guard
from harness.runtime.accelerator import make_accelerator
from harness.runtime.loader import make_loader
from harness.runtime.precision import cpu_has_amx, resolve

__all__ = ["bf16_guard", "cpu_has_amx", "make_accelerator", "make_loader", "resolve"]
