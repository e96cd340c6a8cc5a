"""Keep bf16 autocast on the CPU from training on garbage gradients, and from oneDNN's slow bf16
depthwise backward.

oneDNN's bf16 convolution gives a wrong weight gradient (NaN, inf, or values up to 1e36, different
on every call) when a strided convolution produces an output one pixel wide or high: the forward
pass and the input gradient are right, fp32 is exact. Seen with torch 2.14.1 on AVX-512 BF16 (AMD
EPYC), on AMX (Intel Xeon, issue 22) and on AVX-512 without BF16 (Intel Xeon, where bf16 is
emulated); kernels 2 to 7 are wrong in most calls, a 1x1 kernel on 3 input channels in a few.
`bench/speed/bf16_kernels.py` sweeps the shapes and prints which are wrong on the machine it runs on.
Small images reach such maps in the last stage of most networks: `test_resnet` at 16 px (layer4's
3x3 stride-2 conv on a 1-pixel map), a ResNet-50 at 32 px.

The guard is shape-exact and cheap: every strided convolution checks its output size on each call
under CPU autocast, and only a call whose output has a side of 1 runs in fp32 (those maps are a
pixel wide, so the cost is in the noise; `bench/speed/bf16_kernels.py` measures it). Every other call,
and every call outside CPU autocast (GPU, fp32, export), is the plain convolution. The weights,
their names and the state dict are unchanged: the guard swaps the module's class for a subclass
with the check in `forward`.

Depthwise convolutions (groups = input channels) also leave autocast while gradients are being
recorded: their bf16 forward-and-backward takes 1.3-2.7x the time of fp32's on a 2-core AVX-512 BF16
EPYC (torch 2.14.1), which made a bf16 EfficientNet training step slower than fp32's, while their
bf16 forward alone (prediction, validation) is the fast one. Run in fp32 inside an otherwise bf16
step, a Lite0 step at batch 16 runs at 1.4x fp32's images/s instead of 0.9x
(`bench/speed/step_precision.py`, docs/precision.md). `HARNESS_BF16_DEPTHWISE=bf16` keeps them on
oneDNN's bf16 kernel, to measure it or for a CPU where it pays (AMX was not measured).

A call sent to fp32 runs the convolution class's own forward, so timm's `Conv2dSame` (every
convolution of the tf_ EfficientNets) pads as it does in bf16, and the 1-pixel check reads its
padded output size, ceil(input / stride).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
from torch import nn

from harness.errors import HarnessError

DEPTHWISE_ENV = "HARNESS_BF16_DEPTHWISE"
_TRAIN_FP32 = "_bf16_guard_trains_in_fp32"  # set by `guard` on the depthwise convolutions it sends to fp32


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pairs(conv: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    def pair(v: object) -> tuple[int, int]:
        return (int(v[0]), int(v[1])) if isinstance(v, tuple) else (int(v), int(v))  # type: ignore[call-overload]
    padding = conv.padding if not isinstance(conv.padding, str) else (0, 0)  # "same"/"valid" never strides
    return pair(conv.kernel_size), pair(conv.stride), pair(padding), pair(conv.dilation)


def same_padded(conv: nn.Conv2d) -> bool:
    """Whether this is timm's `Conv2dSame` (the tf_ EfficientNets): its `padding` is 0 and its forward
    pads each input to TensorFlow's 'SAME', so an output side is ceil(input / stride)."""
    layers = sys.modules.get("timm.layers")  # no such convolution exists unless timm is loaded
    return layers is not None and isinstance(conv, getattr(layers, "Conv2dSame", ()))


def may_be_wrong(conv: nn.Conv2d) -> bool:
    """Whether some input size gives this convolution a wrong bf16 weight gradient: it is strided."""
    _, stride, _, _ = _pairs(conv)
    return any(s > 1 for s in stride)


def depthwise(conv: nn.Conv2d) -> bool:
    """Whether a convolution is depthwise: one group a channel (a channel multiplier allowed)."""
    return conv.groups > 1 and conv.groups == conv.in_channels


def depthwise_in_fp32() -> bool:
    """Whether guarded depthwise convolutions train in fp32 (the default), or on oneDNN's bf16 kernel
    (`HARNESS_BF16_DEPTHWISE=bf16`)."""
    value = os.environ.get(DEPTHWISE_ENV, "fp32").strip().lower()
    if value not in ("fp32", "bf16"):
        raise HarnessError(f"{DEPTHWISE_ENV}={value!r}: use fp32 (the default) or bf16")
    return value == "fp32"


def wrong_at(conv: nn.Conv2d, height: int, width: int) -> bool:
    """Whether an input of this size hits the kernel bug: a side of the output is 1 pixel."""
    if not may_be_wrong(conv):
        return False
    kernel, stride, padding, dilation = _pairs(conv)
    if same_padded(conv):
        return any(-(-n // s) == 1 for n, s in zip((height, width), stride, strict=True))
    return any(output_size(n, k, s, p, d) == 1 for n, k, s, p, d in
               zip((height, width), kernel, stride, padding, dilation, strict=True))


def active(acc: Any) -> bool:
    """Whether an Accelerator trains in CPU bf16 autocast, where the guard is needed."""
    return bool(acc.device.type == "cpu" and acc.mixed_precision == "bf16")


def in_fp32(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """Whether this call of a guarded convolution leaves CPU bf16 autocast: its output has a
    1-pixel side, or it is depthwise and gradients are being recorded."""
    return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and ((getattr(conv, _TRAIN_FP32, False) and torch.is_grad_enabled()) or wrong_at(conv, x.shape[-2], x.shape[-1])))


def _guarded_forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if in_fp32(self, x):  # the class's own forward (timm's Conv2dSame pads first), on fp32 input and weights
        with torch.autocast("cpu", enabled=False):
            return super(type(self), self).forward(x.float())
    return super(type(self), self).forward(x)


_GUARDED: dict[type, type] = {}


def _guarded_class(base: type[nn.Conv2d]) -> type[nn.Conv2d]:
    if base not in _GUARDED:
        _GUARDED[base] = type(f"Bf16Guarded{base.__name__}", (base,), {"forward": _guarded_forward, "__module__": __name__})
    return _GUARDED[base]


def guard(model: nn.Module) -> list[str]:
    """Give every convolution of `model` that may hit the kernel bug, and every depthwise one (unless
    `HARNESS_BF16_DEPTHWISE=bf16`), the check; returns their names. Idempotent."""
    names = []
    train_fp32 = depthwise_in_fp32()
    for name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d):
            continue
        fp32_training = train_fp32 and depthwise(module)
        if may_be_wrong(module) or fp32_training:
            if not type(module).__name__.startswith("Bf16Guarded"):
                module.__class__ = _guarded_class(type(module))
            setattr(module, _TRAIN_FP32, fp32_training)
            names.append(name)
    return names


def hit_at(model: nn.Module, image_size: int, channels: int = 3) -> list[str]:
    """The guarded convolutions that an image of `image_size` px sends to fp32: one eval-mode
    forward pass of one image, recording each convolution's input size."""
    hits: list[str] = []
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: hits.append(name)
                                         if wrong_at(m, args[0].shape[-2], args[0].shape[-1]) else None)
             for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, channels, image_size, image_size, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return list(dict.fromkeys(hits))


def note(model: nn.Module, image_size: int, auto: bool) -> str | None:
    """The line a CPU bf16 run prints before training when its model hits the kernel bug at the
    recipe's image size, or None when it does not."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    hits = hit_at(model, image_size, first.in_channels if first is not None else 3)
    if not hits:
        return None
    shown = ", ".join(hits[:4]) + (f" and {len(hits) - 4} more" if len(hits) > 4 else "")
    why = "auto picked bf16 on this CPU" if auto else "train.precision='bf16'"
    return (f"{why}: {len(hits)} strided convolution(s) reach a 1-pixel side at {image_size} px ({shown}), where oneDNN's "
            "bf16 weight gradient is garbage on CPUs; they run in fp32 (harness.runtime.bf16_guard)")
