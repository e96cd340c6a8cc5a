"""The CPU bf16 convolution bug, reproduced, and what the guard against it costs.

Part 1 (`sweep`): for a grid of convolutions (kernel, stride, padding, input size, channels,
memory format), the weight gradient under CPU bf16 autocast against fp32 on the same
bf16-rounded inputs, `--repeats` times each (the garbage differs on every call). A shape is
wrong when a relative error exceeds 5% (bf16's own error here is about 0.3%) or is not finite.
It reports every wrong shape, how often it was wrong, and whether `bf16_guard.wrong_at` sends
it to fp32: the guard is complete on this machine when `missed` is empty.

Part 2 (`cost`): the three fixes the issue weighed, on one training step (forward, backward, SGD)
on tensors in memory, alternating fp32, bf16 unguarded and bf16 guarded every round; median
seconds a step. The guard (the affected calls in fp32) costs its shape checks on a model the bug
does not touch (resnet18 at 64 px: no 1-pixel maps), and the fp32 calls on one it does
(test_resnet at 16 px, where "unguarded" trains on garbage). Falling back to fp32 costs fp32's
step against bf16's. A numerical self-check costs `self_check_s` once per machine and model.

    python bench/speed/bf16_kernels.py [--repeats 5] [--rounds 7]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness.runtime import bf16_guard

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

TOLERANCE = 0.05


def weight_grad_error(cin: int, cout: int, k: int, s: int, p: int, h: int, w: int, channels_last: bool) -> float:
    x = torch.randn(4, cin, h, w)
    weight = torch.randn(cout, cin, k, k) * 0.1
    if channels_last:
        x, weight = x.to(memory_format=torch.channels_last), weight.to(memory_format=torch.channels_last)
    ref_w = weight.bfloat16().float().requires_grad_()
    out = F.conv2d(x.bfloat16().float(), ref_w, None, s, p)
    grad = torch.randn_like(out).bfloat16().float()
    out.backward(grad)
    w16 = weight.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out16 = F.conv2d(x, w16, None, s, p)
    out16.float().backward(grad)
    assert w16.grad is not None and ref_w.grad is not None
    err = ((w16.grad - ref_w.grad).norm() / ref_w.grad.norm()).item()
    return err if err == err else float("inf")


def sweep(repeats: int) -> dict[str, Any]:
    torch.manual_seed(0)
    wrong, checked, guarded_fine = [], 0, 0
    grid = itertools.product([1, 2, 3, 5, 7], [1, 2, 3], [0, 1], [(1, 1), (1, 4), (4, 1), (2, 2), (3, 3), (4, 4), (7, 7)],
                             [False, True], [(64, 64), (192, 96), (3, 16)])
    for k, s, pad, (h, w), cl, (cin, cout) in grid:
        p = pad * (k // 2)
        if h + 2 * p < k or w + 2 * p < k:
            continue
        checked += 1
        errors = [weight_grad_error(cin, cout, k, s, p, h, w, cl) for _ in range(repeats)]
        conv = nn.Conv2d(cin, cout, k, s, p)
        guarded = bf16_guard.wrong_at(conv, h, w)
        bad = sum(not e <= TOLERANCE for e in errors)
        if bad:
            wrong.append({"kernel": k, "stride": s, "padding": p, "input": [h, w], "channels_last": cl,
                          "channels": [cin, cout], "wrong_in": f"{bad}/{repeats}", "worst": max(errors),
                          "guarded": guarded})
        elif guarded:
            guarded_fine += 1
    missed = [r for r in wrong if not r["guarded"]]
    print(f"{checked} shapes x {repeats} calls: {len(wrong)} wrong, {len(missed)} of them not guarded; "
          f"{guarded_fine} guarded shapes were right in every call")
    for r in wrong:
        print("  wrong:", {k: v for k, v in r.items() if k != "worst"}, f"worst {r['worst']:.3g}")
    return {"shapes": checked, "repeats": repeats, "wrong": wrong, "missed": missed,
            "guarded_but_right": guarded_fine}


def _step_seconds(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool, steps: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first step warms oneDNN's kernel cache


def self_check_seconds(model: nn.Module, size: int) -> tuple[float, int]:
    """What the alternative the guard was chosen over would cost once per machine and model: a
    numerical check (bf16 against fp32 weight gradient, batch 4) of every distinct convolution the
    model meets at `size`. Returns (seconds, convolutions checked)."""
    seen: set[tuple[Any, ...]] = set()

    def record_shape(m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        assert isinstance(m, nn.Conv2d)
        if m.groups == 1 and m.kernel_size[0] == m.kernel_size[1]:
            pad = m.padding[0] if isinstance(m.padding, tuple) else 0
            seen.add((m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], int(pad), *args[0].shape[-2:]))

    hooks = [m.register_forward_pre_hook(record_shape) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    model.train()
    for h in hooks:
        h.remove()
    start = time.perf_counter()
    for cin, cout, k, s, p, h, w in seen:
        weight_grad_error(cin, cout, k, s, p, h, w, False)
    return time.perf_counter() - start, len(seen)


def cost(rounds: int) -> list[dict[str, Any]]:
    import timm

    rows = []
    for name, size, batch in (("resnet18", 64, 32), ("test_resnet", 16, 64)):
        torch.manual_seed(0)
        plain = timm.create_model(name, num_classes=10)
        guarded = timm.create_model(name, num_classes=10)
        guarded.load_state_dict(plain.state_dict())
        names = bf16_guard.guard(guarded)
        hits = bf16_guard.hit_at(guarded, size)
        x, y = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
        arms: dict[str, list[float]] = {"fp32": [], "bf16": [], "bf16_guarded": []}
        for _ in range(rounds):
            arms["fp32"].append(_step_seconds(plain, x, y, False, 5))
            arms["bf16"].append(_step_seconds(plain, x, y, True, 5))
            arms["bf16_guarded"].append(_step_seconds(guarded, x, y, True, 5))
        med = {k: statistics.median(v) for k, v in arms.items()}
        check_s, checked = self_check_seconds(plain, size)
        row = {"model": name, "image_size": size, "batch": batch, "guarded_convs": len(names),
               "fp32_at_this_size": hits, "median_step_s": med,
               "guarded_vs_unguarded": med["bf16_guarded"] / med["bf16"], "guarded_vs_fp32": med["bf16_guarded"] / med["fp32"],
               "fp32_fallback_vs_bf16": med["fp32"] / med["bf16"], "self_check_s": check_s, "self_check_convs": checked,
               "rounds": rounds}
        print(f"{name} at {size} px, batch {batch}: step fp32 {med['fp32'] * 1e3:.1f} ms, bf16 {med['bf16'] * 1e3:.1f} ms, "
              f"bf16 guarded {med['bf16_guarded'] * 1e3:.1f} ms ({row['guarded_vs_unguarded']:.3f}x unguarded, "
              f"{row['guarded_vs_fp32']:.3f}x fp32); {len(hits)} conv(s) in fp32 at this size; a self-check of its "
              f"{checked} distinct convolutions would take {check_s:.2f} s once")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    found = sweep(args.repeats)
    rows = cost(args.rounds)
    record("bf16_kernels", {"torch_threads": torch.get_num_threads(), **found, "cost": rows})


if __name__ == "__main__":
    main()
