"""Side-by-side throughput: `harness run` (uncached and with the decoded-image cache) against a
bare PyTorch + timm loop doing the same work, alternating in one invocation, several rounds.

    python bench/throughput.py --data ../shared/data/hymenoptera --rounds 3

Prints medians and ratios, and appends every measurement, with the machine it ran on, to
bench/results/throughput.jsonl. timm's reference train.py is not shipped in the timm wheel and no
copy can be fetched offline here, so it is not part of this comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def timed(cmd: list[str], cwd: Path) -> tuple[str, float, float]:
    """Run `cmd`; return stdout, wall seconds and peak RSS in MiB (GNU time)."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as rss:
        start = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], cwd=cwd, capture_output=True, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        wall = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
        return res.stdout, wall, int(Path(rss.name).read_text().split()[-1]) / 1024


def harness(data: Path, cache: bool, extra: list[str], scratch: Path) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(dir=scratch))
    _, wall, rss = timed([sys.executable, "-m", "harness", "run", str(HERE / "recipes" / "throughput.toml"),
                          "--out", str(out / "run"), "--set", f"data.root='{data}'", "--set", f"data.cache={str(cache).lower()}",
                          "--set", f"data.cache_dir='{scratch / 'cache'}'", *extra], ROOT)
    m = json.loads((out / "run" / "metrics.json").read_text())
    return {"train_img_per_s": m["train_img_per_s"], "predict_img_per_s": m["predict_img_per_s"],
            "wall_s": wall, "peak_rss_mib": rss}


def bare(data: Path, extra: list[str], limit: int) -> dict[str, float]:
    stdout, wall, rss = timed([sys.executable, str(HERE / "bare_loop.py"), str(data / "train"), "--limit", str(limit),
                               *extra], ROOT)
    rates = json.loads(stdout.strip().splitlines()[-1])["train_img_per_s"]
    return {"train_img_per_s": statistics.median(rates), "wall_s": wall, "peak_rss_mib": rss}


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {gpu}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--set", dest="sets", action="append", default=[], help="extra harness --set (e.g. model.name=...)")
    p.add_argument("--bare-args", default="", help="extra bare_loop.py arguments, space separated")
    args = p.parse_args()
    if not (args.data / "train").is_dir():
        raise SystemExit(f"{args.data} has no train/ folder: pass --data")
    extra = [a for s in args.sets for a in ("--set", s)]
    # The harness trains fold 0 of 3: two thirds of the images. The bare loop gets as many, so
    # both pay the same per-epoch fixed costs.
    limit = sum(1 for p in (args.data / "train").rglob("*") if p.is_file()) * 2 // 3
    scratch = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    harness(args.data, True, extra, scratch)  # warm-up: fills the cache and the OS file cache
    runs: dict[str, list[dict[str, float]]] = {"harness": [], "harness_cached": [], "bare": []}
    order = list(runs)
    for r in range(args.rounds):
        for name in order[r % 3:] + order[: r % 3]:  # rotate, so no variant always runs first
            result = (bare(args.data, args.bare_args.split(), limit) if name == "bare"
                      else harness(args.data, name == "harness_cached", extra, scratch))
            runs[name].append(result)
            print(f"round {r + 1} {name}: {json.dumps(result)}", flush=True)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in runs.items()}
    summary = {
        "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M"), "rounds": args.rounds, "sets": args.sets,
        "medians": med,
        "harness_vs_bare": med["harness"]["train_img_per_s"] / med["bare"]["train_img_per_s"],
        "cached_vs_uncached": med["harness_cached"]["train_img_per_s"] / med["harness"]["train_img_per_s"],
        "cached_vs_bare": med["harness_cached"]["train_img_per_s"] / med["bare"]["train_img_per_s"],
        "raw": runs,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "raw"}, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "throughput.jsonl", "a") as fh:
        fh.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
