"""Side-by-side throughput: `harness run` (uncached and with the decoded-image cache) against a
bare PyTorch + timm loop doing the same work and, when a local copy is given, timm's reference
`train.py`; alternating in one invocation, several rounds.

    python bench/speed/throughput.py --data ../shared/data/hymenoptera --rounds 3 [--timm-train PATH/train.py]
    python bench/speed/throughput.py --model resnet50 --precision bf16 --workers 8 --epochs 8   # on a GPU

Every variant trains the same model (EfficientNet-Lite0 unless --model) at 224 px, batch 32, AdamW,
the same precision, channels_last, random-resized crop + flip, the same number of loader workers;
the figure is the median over epochs of training images/s with loading included and evaluation
excluded. `--variant NAME=SET;SET` adds a harness run with other settings (a before/after of a
default, e.g. `--variant "no_pin=data.pin_memory=false"`).
timm's train.py is not in the timm wheel or sdist: pass a copy of it (its `Train:` log lines give
per-batch times; it trains on all of train/ rather than one fold, so per-image rates compare).
Prints medians and ratios, and appends every measurement, with the machine, to
bench/results/throughput.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import statistics
import sys
import tempfile
from pathlib import Path

from harness.runtime import resolve

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record, set_args, timed  # noqa: E402

ROOT = BENCH.parent
BARE_LOOP = BENCH / "baselines" / "bare_loop.py"


def harness(data: Path, cache: bool, extra: list[str], scratch: Path) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(dir=scratch))
    _, wall, rss = timed([sys.executable, "-m", "harness", "run", str(BENCH / "recipes" / "throughput.toml"),
                          "--out", str(out / "run"), "--set", f"data.root='{data}'", "--set", f"data.cache={str(cache).lower()}",
                          "--set", f"data.cache_dir='{scratch / 'cache'}'", *extra], ROOT)
    m = json.loads((out / "run" / "metrics.json").read_text())
    return {"train_img_per_s": m["train_img_per_s"], "predict_img_per_s": m["predict_img_per_s"],
            "data_wait_fraction": m.get("data_wait_fraction", float("nan")), "wall_s": wall, "peak_rss_mib": rss}


def bare(data: Path, extra: list[str], limit: int, epochs: int) -> dict[str, float]:
    stdout, wall, rss = timed([sys.executable, str(BARE_LOOP), str(data / "train"), "--limit", str(limit),
                               "--epochs", str(epochs), "--channels-last", *extra], ROOT)
    rates = json.loads(stdout.strip().splitlines()[-1])["train_img_per_s"]
    return {"train_img_per_s": statistics.median(rates), "wall_s": wall, "peak_rss_mib": rss}


TIMM_BATCH = re.compile(r"Train: (\d+) \[\s*\d+/\d+ \(\s*\d+%\)\].*?Time: ([\d.]+)s,")


def timm_train(script: Path, data: Path, args: argparse.Namespace, scratch: Path) -> dict[str, float]:
    """timm's train.py with the bare loop's settings; images/s per epoch from its per-batch times."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    device = "cuda" if _cuda() else "cpu"
    amp = ["--amp", "--amp-dtype", "bfloat16"] if _bf16(args.precision) else []
    cmd = [sys.executable, str(script), "--data-dir", str(data), "--train-split", "train", "--val-split", "val",
           "--device", device, "--model", args.model or "efficientnet_lite0", "--num-classes", "2", "-b", str(args.batch),
           "--img-size", "224", "--workers", str(args.workers), "--opt", "adamw", "--lr", "1e-3", "--weight-decay", "0.01",
           # A constant rate as "step" with no decay: older timm versions know no "constant".
           "--epochs", str(args.epochs), "--sched", "step", "--decay-epochs", "100000", "--decay-rate", "1.0",
           "--warmup-epochs", "0", "--scale", "0.25", "1",
           "--hflip", "0.5", "--color-jitter", "0", "--interpolation", "bilinear", "--train-interpolation", "bilinear",
           "--reprob", "0", "--smoothing", "0", "--channels-last", "--log-interval", "1", "--output", str(out),
           "--experiment", "run", *(["--pin-mem"] if device == "cuda" else []), *amp]
    log, wall, rss = timed(cmd, out, stderr_too=True)
    seconds: dict[int, list[float]] = {}
    for epoch, t in TIMM_BATCH.findall(log):
        seconds.setdefault(int(epoch), []).append(float(t))
    rates = [args.batch * len(ts) / sum(ts) for ts in seconds.values()]
    if not rates:
        raise SystemExit(f"no Train: lines in timm's log:\n{log[-3000:]}")
    return {"train_img_per_s": statistics.median(rates), "wall_s": wall, "peak_rss_mib": rss}


def _bf16(precision: str) -> bool:
    """What the harness's `train.precision` resolves to, for the other sides (under auto: bf16 on a
    GPU or a CPU with AMX or AVX-512 BF16)."""
    return resolve(precision, _cuda()) == "bf16"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", help="a timm model for every side (default: the recipe's EfficientNet-Lite0)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--set", dest="sets", action="append", default=[], help="extra harness --set, every harness run")
    p.add_argument("--variant", action="append", default=[], help="NAME=SET;SET: one more harness run with these --set")
    p.add_argument("--bare-args", default="", help="extra bench/baselines/bare_loop.py arguments, space separated")
    p.add_argument("--timm-train", type=Path, help="a local copy of timm's train.py, to compare against as well")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    args.data = args.data.resolve()  # the runs start in other folders
    args.timm_train = args.timm_train and args.timm_train.resolve()
    if not (args.data / "train").is_dir():
        raise SystemExit(f"{args.data} has no train/ folder: pass --data")
    common = [f"train.epochs={args.epochs}", f"train.batch_size={args.batch}", f"data.num_workers={args.workers}",
              f"train.precision='{args.precision}'", *args.sets]
    if args.model:
        common += [f"model.name='{args.model}'", "model.source='timm'"]
    extra = set_args(common)
    variants = {name: [a for s in sets.split(";") for a in ("--set", s)]
                for name, sets in (v.split("=", 1) for v in args.variant)}
    bare_args = ["--batch", str(args.batch), "--workers", str(args.workers), *(["--model", args.model] if args.model else []),
                 *(["--bf16"] if _bf16(args.precision) else []), *args.bare_args.split()]
    # The harness trains fold 0 of 3: two thirds of the images. The bare loop gets as many, so
    # both pay the same per-epoch fixed costs.
    limit = sum(1 for p in (args.data / "train").rglob("*") if p.is_file()) * 2 // 3
    scratch = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    harness(args.data, True, [*extra, "--set", "train.epochs=1"], scratch)  # warm-up: fills the cache and OS file cache
    runs: dict[str, list[dict[str, float]]] = {"harness": [], "harness_cached": [], "bare": [], **{v: [] for v in variants}}
    if args.timm_train:
        runs["timm_train_py"] = []
    order = list(runs)
    stopped = None
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` stops us: what was measured is still recorded
    try:
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[: r % len(order)]:  # rotate, so no variant always runs first
                if name == "bare":
                    result = bare(args.data, bare_args, limit, args.epochs)
                elif name == "timm_train_py":
                    result = timm_train(args.timm_train, args.data, args, scratch)
                else:
                    result = harness(args.data, name == "harness_cached", [*extra, *variants.get(name, [])], scratch)
                runs[name].append(result)
                print(f"round {r + 1} {name}: {json.dumps(result)}", flush=True)
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # `timeout` signals the whole group, maybe more than once
        stopped = f"stopped in round {r + 1} of {args.rounds}"
    runs = {name: rs for name, rs in runs.items() if rs}
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in runs.items()}
    rate = {name: m["train_img_per_s"] for name, m in med.items()}

    def ratio(a: str, b: str) -> float | None:
        return rate[a] / rate[b] if a in rate and b in rate else None

    summary = {
        "rounds": args.rounds, **({"note": stopped} if stopped else {}), "data": str(args.data), "settings": common,
        "variants": args.variant, "medians": med,
        "harness_vs_bare": ratio("harness", "bare"),
        "cached_vs_uncached": ratio("harness_cached", "harness"),
        "cached_vs_bare": ratio("harness_cached", "bare"),
        **{f"harness_vs_{v}": ratio("harness", v) for v in variants},
        **({"harness_vs_timm_train_py": ratio("harness", "timm_train_py"),
            "cached_vs_timm_train_py": ratio("harness_cached", "timm_train_py"),
            "timm_train_py_sha1": hashlib.sha1(args.timm_train.read_bytes()).hexdigest()} if args.timm_train else {}),
        "raw": runs,
    }
    record("throughput", summary)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
