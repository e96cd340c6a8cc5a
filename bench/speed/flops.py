"""The physical limit of this machine, and how much of it the CIFAR-10 recipe's training reaches.

    python bench/speed/flops.py --run runs/cifar10-screen      # a finished run of recipes/cifar10.toml
    python bench/speed/flops.py --device cuda --run RUN --rate airbench94=IMG_PER_S   # on a GPU
    python bench/speed/flops.py --run RUN --batches 128 256 512 1024   # the bare loop at each batch

The limit: the FLOP/s of a large matmul and of a 3x3 convolution shaped like the recipe's widest
layer (channels-last), in fp32 and in bf16 (torch's kernels, all cores, median of several repeats);
the limit is the best of the four. On a GPU (`--device cuda`): a 8192^3 matmul and the convolution at
batch 1024, in fp32 (TF32 off), bf16 and fp16, timed between synchronizations. The achieved:
the recipe network's training FLOPs per image (forward counted by torch's FlopCounterMode, backward
taken as twice the forward) times the training images/s, both of the harness run given (its
metrics.json), of any `--rate NAME=IMAGES_PER_S` (airbench's, say) and of a bare loop (forward,
backward and SGD step on random batches, nothing else; in bf16 autocast where the harness's
`precision = "auto"` trains in bf16: a GPU, or a CPU with AVX-512 BF16 or AMX). `--batches` times
the bare loop at each batch size too, in the same process one after the other: on a CPU the batch
decides how much of the limit a step reaches.

Appends one row, with the machine, to bench/results/flops.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

ROOT = BENCH.parent


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _rate(work: Callable[[], object], flops: float, repeats: int, device: str = "cpu") -> float:
    work()  # warm-up: kernel selection, allocation
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        work()
        _sync(device)
        times.append(time.perf_counter() - start)
    return flops / statistics.median(times)


def limits(repeats: int, device: str = "cpu") -> dict[str, float]:
    """GFLOP/s of an n^3 matmul and of a 256->256 3x3 convolution on 16x16 maps: n 2048 and batch 256
    on a CPU, 8192 and 1024 on a GPU (in fp16 too there; TF32 off, so fp32 is fp32)."""
    out: dict[str, float] = {}
    gpu = device == "cuda"
    n, batch = (8192, 1024) if gpu else (2048, 256)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    names = {torch.float32: "fp32", torch.bfloat16: "bf16", **({torch.float16: "fp16"} if gpu else {})}
    for dtype, name in names.items():
        a, b = (torch.randn(n, n, dtype=dtype, device=device) for _ in range(2))
        out[f"matmul_{name}_gflops"] = _rate(partial(torch.matmul, a, b), 2 * n**3, repeats, device) / 1e9
        # channels-last, as oneDNN prefers on a CPU and as the recipe's batches arrive (NHWC uint8, permuted)
        x = torch.randn(batch, 256, 16, 16, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        w = torch.randn(256, 256, 3, 3, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        out[f"conv_{name}_gflops"] = _rate(partial(F.conv2d, x, w, padding=1), 2 * batch * 256 * 16 * 16 * 256 * 9,
                                            repeats, device) / 1e9
    return out


def recipe_model(recipe: Path) -> torch.nn.Module:
    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins

    r = load_recipe(recipe)
    return load_plugins().model(r.model.source).build(r.model, 10)


def forward_flops(model: torch.nn.Module, size: int) -> float:
    """FLOPs of one image's forward pass (batch 64, divided)."""
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(64, 3, size, size))
    return counter.get_total_flops() / 64


def auto_bf16(device: str) -> bool:
    """Whether the harness's `precision = "auto"` trains in bf16 on this device."""
    from harness.runtime.precision import cpu_bf16

    return device == "cuda" or cpu_bf16("auto")


def bare_train_rate(model: torch.nn.Module, size: int, batch: int, steps: int, device: str, bf16: bool) -> float:
    """Training images/s of forward + backward + SGD on random batches: the loop with nothing else,
    in bf16 autocast or in fp32 (`main` passes `auto_bf16`: as the harness's `precision = "auto"` trains)."""
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)  # as the array's batches
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3 if device == "cuda" else 1):  # cuDNN's autotuning, on a GPU
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", type=Path, help="a finished run of the recipe: its training images/s")
    p.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "cifar10.toml")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--rate", action="append", default=[], metavar="NAME=IMAGES_PER_S",
                   help="another training rate to express as FLOP/s (airbench's, say)")
    p.add_argument("--batches", type=int, nargs="+", default=[],
                   help="also time the bare loop at each of these batch sizes")
    args = p.parse_args()
    limit = limits(args.repeats, args.device)
    model = recipe_model(args.recipe)
    per_image = 3 * forward_flops(model, 32)  # forward + backward (about twice the forward)
    bf16 = auto_bf16(args.device)
    bare = bare_train_rate(model, 32, 512 if args.device == "cpu" else 1024, args.steps, args.device, bf16)
    best = max(limit.values())  # the best this machine showed, fp32 or bf16, matmul or convolution
    summary = {**{k: round(v, 1) for k, v in limit.items()}, "limit_gflops": round(best, 1),
               "train_gflop_per_image": round(per_image / 1e9, 4), "bare_loop_precision": "bf16" if bf16 else "fp32",
               "bare_loop_img_per_s": round(bare, 1),
               "bare_loop_gflops": round(bare * per_image / 1e9, 1),
               "bare_loop_fraction_of_limit": round(bare * per_image / 1e9 / best, 3)}
    if args.batches:
        by_batch = {b: bare_train_rate(model, 32, b, args.steps, args.device, bf16) for b in args.batches}
        summary["bare_loop_img_per_s_by_batch"] = {str(b): round(r, 1) for b, r in by_batch.items()}
        summary["bare_loop_fraction_of_limit_by_batch"] = {str(b): round(r * per_image / 1e9 / best, 3)
                                                           for b, r in by_batch.items()}
    for name, rate in (r.split("=", 1) for r in args.rate):
        summary.update({f"{name}_img_per_s": float(rate), f"{name}_gflops": round(float(rate) * per_image / 1e9, 1),
                        f"{name}_fraction_of_limit": round(float(rate) * per_image / 1e9 / best, 3)})
    if args.run:
        from harness.config.recipe import load_recipe

        rate = json.loads((args.run / "metrics.json").read_text())["train_img_per_s"]
        batch = load_recipe(args.run / "recipe.toml").train.batch_size
        summary.update({"run": str(args.run), "run_batch_size": batch, "harness_img_per_s": round(rate, 1),
                        "harness_gflops": round(rate * per_image / 1e9, 1),
                        "harness_fraction_of_limit": round(rate * per_image / 1e9 / best, 3),
                        "harness_vs_bare_loop": round(rate / bare, 3)})
    record("flops", summary)


if __name__ == "__main__":
    main()
