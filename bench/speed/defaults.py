"""Before/after for each fast default, on tensors in memory, alternating variants each round:
channels_last, bf16 autocast (which `precision = "auto"` enables on a GPU and on a CPU with AMX or AVX-512 BF16),
`zero_grad(set_to_none=True)`, fused AdamW (the harness's optimizer), and optionally
`torch.compile` (`train.compile`).

    python bench/speed/defaults.py --model efficientnet_lite0 --size 224 --rounds 3 [--compile] [--no-bf16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import timm
import torch

from harness.runtime import cpu_has_amx

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402


def epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int,
          channels_last: bool, bf16: bool, set_to_none: bool) -> float:
    device = x.device.type
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    start = time.perf_counter()
    for _ in range(steps):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=set_to_none)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-bf16", action="store_true", help="leave out bf16 (very slow on a CPU without AMX)")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, 2, (args.batch,), device=device)
    variants = {
        "fp32": dict(channels_last=False, bf16=False, set_to_none=True),
        "fp32_channels_last": dict(channels_last=True, bf16=False, set_to_none=True),
        "bf16_channels_last": dict(channels_last=True, bf16=True, set_to_none=True),
        "fp32_zero_grad_to_zeros": dict(channels_last=False, bf16=False, set_to_none=False),
        "fp32_channels_last_fused_adamw": dict(channels_last=True, bf16=False, set_to_none=True),
    }
    if args.no_bf16:
        del variants["bf16_channels_last"]
    if args.compile:
        variants["fp32_compiled"] = dict(channels_last=False, bf16=False, set_to_none=True)
        variants["fp32_channels_last_compiled"] = dict(channels_last=True, bf16=False, set_to_none=True)
    models = {}
    for name, v in variants.items():
        m = timm.create_model(args.model, num_classes=2).to(device)
        if v["channels_last"]:
            m = m.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(m.parameters(), fused="fused" in name)
        models[name] = (torch.compile(m) if "compiled" in name else m, opt)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name in variants:  # warm-up (and compilation) outside the timing
        epoch(*models[name], x, y, 1, **variants[name])
    order = list(variants)
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[: r % len(order)]:
            times[name].append(epoch(*models[name], x, y, args.steps, **variants[name]))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "model": args.model, "size": args.size, "batch": args.batch, "device": device, "amx": cpu_has_amx(),
        "img_per_s": {k: args.batch / v for k, v in med.items()},
        "speedup_vs_fp32": {k: med["fp32"] / v for k, v in med.items()},
    }
    record("defaults", result)


if __name__ == "__main__":
    main()
