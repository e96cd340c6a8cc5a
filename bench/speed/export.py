"""Exported models against PyTorch eager, on the CPU: a run of `recipes/lite0_finetune.toml`
(trained here, or reused when the folder holds a finished one) exported as fold 0 alone and as
the 5-fold ensemble, each as ONNX fp32 and ONNX int8 (`harness export`, no TTA); then per
backend and thread count the latency of one image (batch 1) and images/s at batch 32, medians
over rounds that alternate the backends, and the holdout (`val/`) accuracy.

    python bench/speed/export.py [--run runs/bench-export/lite0_finetune] [--rounds 5] [--repeats 10] [--threads 1,2]

PyTorch eager runs the same module that is exported (normalization inside, softmax out), in
channels_last as the harness predicts; every backend gets the same number of threads. Appends
the rows, with the machine (lscpu model name and AVX2/AVX-512/VNNI/AMX flags) and the load
average around each measurement, to bench/results/export.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record, timed  # noqa: E402

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "lite0_finetune.toml"
HOLDOUT = ROOT.parent / "shared" / "data" / "hymenoptera" / "val"
Predict = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 3, S, S) -> probabilities (N, C)
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")


def cpu() -> dict[str, object]:
    """lscpu's model name and the vector/matrix flags that decide fp32, bf16 and int8 speed."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    return {"model_name": fields.get("Model name", "?").strip(), "cores": os.cpu_count(),
            "flags": [f for f in FLAGS if f in flags]}


def trained_run(run: Path) -> Path:
    if not (run / "run.json").is_file():
        print(f"training {RECIPE.name} into {run} ...", flush=True)
        _, wall, _ = timed([sys.executable, "-m", "harness", "run", str(RECIPE), "--out", str(run)], ROOT)
        print(f"trained in {wall:.0f} s", flush=True)
    return run


def holdout(classes: tuple[str, ...]) -> tuple[list[Path], np.ndarray]:
    paths, labels = [], []
    for i, c in enumerate(classes):
        found = sorted(p for p in (HOLDOUT / c).iterdir() if p.is_file())
        paths += found
        labels += [i] * len(found)
    return paths, np.array(labels)


def holdout_probs(predict: Predict, images: np.ndarray) -> np.ndarray:
    return np.concatenate([predict(images[i:i + 32]) for i in range(0, len(images), 32)])


def timings(backends: dict[str, Predict], images: np.ndarray, repeats: int, rounds: int) -> dict[str, dict[str, float]]:
    """Each round times every backend in turn (the order rotating), `repeats` single images then
    one batch of 32, so that a machine busy with other work slows them all alike."""
    one, batch = images[:1], images[:32]
    names = list(backends)
    samples: dict[str, dict[str, list[float]]] = {n: {"one": [], "batch": []} for n in names}
    for name in names:  # warm-up: first-call allocations and kernel selection
        backends[name](one), backends[name](batch)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for _ in range(repeats):
                start = time.perf_counter()
                backends[name](one)
                samples[name]["one"].append(time.perf_counter() - start)
            start = time.perf_counter()
            backends[name](batch)
            samples[name]["batch"].append(time.perf_counter() - start)
    return {n: {"latency_ms_batch1": 1000 * statistics.median(s["one"]),
                "img_per_s_batch32": len(batch) / statistics.median(s["batch"])} for n, s in samples.items()}


def eager_predictor(module: torch.nn.Module) -> Predict:
    """The exported module in PyTorch, channels_last in and out as the harness predicts."""

    @torch.inference_mode()
    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(module(torch.from_numpy(x).contiguous(memory_format=torch.channels_last)).numpy())

    return predict


def onnx_predictor(session: Any) -> Predict:
    from harness.export.formats import run_onnx

    return lambda x: run_onnx(session, x, "uint8")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "bench-export" / "lite0_finetune")
    p.add_argument("--rounds", type=int, default=5, help="rounds over the backends (medians over all)")
    p.add_argument("--repeats", type=int, default=10, help="batch-1 latencies per backend and round")
    p.add_argument("--threads", default="1,2", help="thread counts to measure, each for every backend")
    args = p.parse_args()

    from harness.export import export_run
    from harness.export.formats import onnx_session
    from harness.export.model import build_exportable, load_images
    from harness.plugin_manager import load_plugins

    run = trained_run(args.run.resolve())
    plugins = load_plugins()
    metrics = json.loads((run / "metrics.json").read_text())
    out = Path(tempfile.mkdtemp(prefix="harness-export-bench-"))
    rows = []
    for target, folds in (("fold 0", [0]), ("5-fold ensemble", [])):
        ex = build_exportable(run, plugins, folds, ["identity"])
        paths, labels = holdout(ex.prep.classes)
        images = load_images(paths, ex.transform)
        files, export_s = {}, {}
        for kind, int8 in (("onnx_fp32", False), ("onnx_int8", True)):
            start = time.perf_counter()
            export_run(run, "onnx", out / f"{target[:4]}_{kind}.onnx", plugins, fold=folds[0] if folds else None,
                       int8=int8)
            export_s[kind], files[kind] = time.perf_counter() - start, out / f"{target[:4]}_{kind}.onnx"
        eager = eager_predictor(ex.module.to(memory_format=torch.channels_last))
        probs = {"pytorch_eager_fp32": holdout_probs(eager, images)}
        probs |= {k: holdout_probs(onnx_predictor(onnx_session(f)), images) for k, f in files.items()}
        reference = probs["pytorch_eager_fp32"]
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            backends: dict[str, Predict] = {"pytorch_eager_fp32": eager}
            for kind, path in files.items():
                backends[kind] = onnx_predictor(onnx_session(path, threads=threads))
            load = os.getloadavg()[0]
            timed_ = timings(backends, images, args.repeats, args.rounds)
            for name, t in timed_.items():
                row = {"target": target, "backend": name, "threads": threads, **{k: round(v, 2) for k, v in t.items()},
                       "holdout_accuracy": round(float((probs[name].argmax(1) == labels).mean()), 4),
                       "agrees_with_eager": round(float((probs[name].argmax(1) == reference.argmax(1)).mean()), 4),
                       "max_abs_prob_diff_vs_eager": float(np.abs(probs[name] - reference).max()),
                       "file_mib": round(files[name].stat().st_size / 2**20, 2) if name in files else None,
                       "export_s": round(export_s[name], 1) if name in export_s else None,
                       "load_avg_1min_before": round(load, 2), "load_avg_1min_after": round(os.getloadavg()[0], 2)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = {"cpu": cpu(), "run": str(run), "holdout_images": len(labels),
               "run_holdout_score_5folds_with_tta": metrics.get("holdout_score"), "rounds": args.rounds,
               "repeats": args.repeats, "onnxruntime": _version("onnxruntime"), "torch": torch.__version__, "rows": rows}
    record("export", summary)
    print(table(rows))


def _version(module: str) -> str:
    import importlib

    return str(getattr(importlib.import_module(module), "__version__", "?"))


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| model | backend | threads | latency, batch 1 (ms, median) | images/s, batch 32 | holdout accuracy "
             "| agrees with eager | file (MiB) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['backend']} | {r['threads']} | {r['latency_ms_batch1']:.1f} | "
                     f"{r['img_per_s_batch32']:.1f} | "
                     f"{r['holdout_accuracy']:.4f} | {r['agrees_with_eager']:.4f} | {r['file_mib'] or ''} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
