"""One training step (forward, cross-entropy, backward, SGD) on tensors in memory, by network and
batch, in three arms: fp32; plain CPU bf16 autocast (every convolution on oneDNN's bf16 kernels);
and bf16 as a run trains it, with `harness.runtime.bf16_guard` (depthwise convolutions in fp32
while gradients are recorded, 1-pixel strided maps in fp32). Where does bf16 pay on this CPU, and
what does the guard's depthwise rule buy?

    python bench/speed/step_precision.py --models efficientnet_lite0 resnet18 --batches 16 64 --size 224

timm builds each network without weights, channels-last as a run makes it. Every round times
`--steps` steps of each (model, batch, arm) after one untimed step, the arms alternating; the
figure is the median over `--rounds` rounds. The plain bf16 arm needs a size at which no strided
convolution reaches a 1-pixel map (the kernel bug would make its gradients garbage); the script
refuses one that does. Appends to bench/results/step_precision.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F

from harness.runtime import bf16_guard

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402

ARMS = ("fp32", "bf16", "guarded")


def steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool, n: int) -> float:
    """Seconds for `n` training steps after one untimed one."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    for i in range(n + 1):
        if i == 1:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "resnet18"])
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = []
    for name in args.models:
        arms = {arm: timm.create_model(name, num_classes=10).to(memory_format=torch.channels_last) for arm in ARMS}
        if hits := bf16_guard.hit_at(arms["bf16"], args.size):
            sys.exit(f"{name} reaches a 1-pixel strided map at {args.size} px ({', '.join(hits)}): plain bf16 "
                     "would train on garbage gradients there; use a larger --size")
        guarded = bf16_guard.guard(arms["guarded"])
        depthwise = sum(isinstance(m, torch.nn.Conv2d) and bf16_guard.depthwise(m) for m in arms["guarded"].modules())
        for batch in args.batches:
            x = torch.randn(batch, 3, args.size, args.size).contiguous(memory_format=torch.channels_last)
            y = torch.randint(0, 10, (batch,))
            times: dict[str, list[float]] = {arm: [] for arm in ARMS}
            for _ in range(args.rounds):
                for arm, model in arms.items():
                    times[arm].append(steps(model, x, y, arm != "fp32", args.steps))
            img_s = {k: batch * args.steps / statistics.median(v) for k, v in times.items()}
            rows.append({"model": name, "batch": batch, "size": args.size, "depthwise_convs": depthwise,
                         "guarded_convs": len(guarded),
                         **{f"{arm}_img_per_s": round(img_s[arm], 1) for arm in ARMS},
                         "bf16_vs_fp32": round(img_s["bf16"] / img_s["fp32"], 2),
                         "guarded_vs_fp32": round(img_s["guarded"] / img_s["fp32"], 2)})
            print(rows[-1], flush=True)
    record("step_precision", {"steps": args.steps, "rounds": args.rounds, "rows": rows})


if __name__ == "__main__":
    main()
