"""The harness's CIFAR-10 recipe against airbench94 (Keller Jordan's CIFAR-10 speed record, the
uncompiled SGD `legacy/airbench94.py` of a pinned commit) on this machine's CPU, the same number of
epochs, alternating the arms each seed: test accuracy, training seconds and images/s.

    python bench/accuracy/airbench.py --epochs 2 --seeds 0 1
    python bench/accuracy/airbench.py --epochs 10 --seeds 0 1 --airbench-seeds 0 \
        --harness-set train.batch_size=256 --harness-set train.lr=0.375    # recipes/cifar10_cpu.toml's setting
    python bench/accuracy/airbench.py --epochs 10 --seeds 0 1 2 --airbench-precision bf16 \
        --harness-set train.batch_size=256 --harness-set train.lr=0.375    # both sides in bf16 (AVX-512 BF16, AMX)

The harness arm is `harness run recipes/cifar10.toml` on fold 0 of 50 (`cv.folds=50`: one model on
49,000 training photos an epoch, against airbench's 49,152; 1,000 validate), scored on the 10,000
test photos (its holdout, with the recipe's TTA views: identity, mirror and the four translated); its training time is the
sum of log.jsonl's `epoch_seconds` (the training loops, no evaluation), and the whole run's wall
time is kept too. The airbench arm is airbench94.py's text, taken from the git snapshot into a
scratch folder at run time with only the edits a CPU needs (`EDITS`: cpu for cuda, float32 for
fp16, perf_counter for cuda events; `--airbench-precision bf16`: `BF16_EDITS`, bf16 for fp16),
its epochs and runs set by environment variables, and a JSON
line printed at the end; otherwise its hyperparameters as they are. It trains on all 50,000
training photos (49,152 an epoch: batch 1024, last partial batch dropped), read from the same JPEG
folder into its train.pt / test.pt, and scores the same test photos with its own TTA (level 2:
mirror + translate). Its training time is its own timer (whitening init + training loops + final
TTA, the data loading excluded) and, apart, the training loops alone, the harness's measure.
airbench is not seeded upstream, and is not seeded here: its seed only labels the repetition.

A first harness run (1 epoch on 2% of the training set, not recorded) builds the decoded-image
array in the scratch folder that every recorded harness run then reads. `--limit N` (a smoke test,
printed, not recorded) runs both arms on the first N training and N // 5 test photos of each class,
copied to the scratch folder; airbench needs N >= 103 for one batch of 1024.

Appends per-arm means, the harness / airbench training-time ratio and every run's raw row, with the
machine and the airbench commit, to bench/results/airbench.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import last_cpu_seconds, record, spread, timed, timed_run  # noqa: E402

ROOT = BENCH.parent
RECIPE = Path("recipes/cifar10.toml")
PHOTOS = (ROOT / "../shared/data/cifar10").resolve()  # the recipe's data.root, relative to where runs start
AIRBENCH_REPO = Path("/work/.mirror/KellerJordan+cifar10-airbench/repo")
AIRBENCH_COMMIT = "f1c599c"
AIRBENCH_FILE = "legacy/airbench94.py"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RESULT_TAG = "AIRBENCH_RESULT "

# (what, old, new, times): each edit must match exactly `times` times. Only what a CPU needs, plus
# settable epochs and runs and the machine-readable result.
_STOP = "ender.record()\n{0}torch.cuda.synchronize()\n{0}total_time_seconds += 1e-3 * starter.elapsed_time(ender)\n"
_RESULT = ("print('" + RESULT_TAG + "' + json.dumps({'tta_val_acc': tta_val_acc, 'val_acc': val_acc, "
           "'total_time_seconds': total_time_seconds, 'train_seconds': train_seconds, "
           "'train_images': current_steps * batch_size, 'steps': current_steps, 'epochs': epochs, "
           "'threads': torch.get_num_threads()}), flush=True)\n")
EDITS: list[tuple[str, str, str, int]] = [
    ("imports for the timer and the result line",
     "import os\nimport sys\n", "import os\nimport sys\nimport json\nimport time\n", 1),
    ("epochs from $AIRBENCH_EPOCHS",
     "'train_epochs': 9.9,", "'train_epochs': float(os.environ.get('AIRBENCH_EPOCHS', 9.9)),", 1),
    ("data loaded to the CPU", "map_location=torch.device(gpu)", "map_location=torch.device('cpu')", 1),
    ("images float32, not fp16", "(self.images.half() / 255)", "(self.images.float() / 255)", 1),
    ("network float32 on the CPU, not fp16 on cuda", "net = net.half().cuda()", "net = net.float()", 1),
    ("no cuda events",
     "    starter = torch.cuda.Event(enable_timing=True)\n    ender = torch.cuda.Event(enable_timing=True)\n", "", 1),
    ("a training-loop timer beside its total",
     "    total_time_seconds = 0.0\n", "    total_time_seconds = 0.0\n    train_seconds = 0.0\n", 1),
    ("perf_counter starts", "starter.record()", "starter = time.perf_counter()", 3),
    ("perf_counter for the training loops, no cuda.synchronize", " " * 8 + _STOP.format(" " * 8),
     " " * 8 + "elapsed = time.perf_counter() - starter\n" + " " * 8 + "total_time_seconds += elapsed\n"
     + " " * 8 + "train_seconds += elapsed\n", 1),
    ("perf_counter for whitening and the final TTA, no cuda.synchronize", " " * 4 + _STOP.format(" " * 4),
     " " * 4 + "total_time_seconds += time.perf_counter() - starter\n", 2),
    ("a JSON result line", "    print_training_details(locals(), is_final_entry=True)\n",
     "    print_training_details(locals(), is_final_entry=True)\n    " + _RESULT, 1),
    ("runs from $AIRBENCH_RUNS", "for run in range(25)", "for run in range(int(os.environ.get('AIRBENCH_RUNS', 25)))", 1),
]


# On a GPU airbench runs as published (cuda, fp16, its cuda-event timers), with the same settable
# epochs and runs and result line, and a timer of the training loops alone beside its total.
_TRAIN_STOP = " " * 8 + _STOP.format(" " * 8)
GPU_EDITS: list[tuple[str, str, str, int]] = [
    *(e for e in EDITS if e[0] in ("imports for the timer and the result line", "epochs from $AIRBENCH_EPOCHS",
                                   "a training-loop timer beside its total", "a JSON result line",
                                   "runs from $AIRBENCH_RUNS")),
    ("the training loops' cuda-event time, apart", _TRAIN_STOP,
     _TRAIN_STOP + " " * 8 + "train_seconds += 1e-3 * starter.elapsed_time(ender)\n", 1),
]
# bf16 on a CPU: the same port with airbench's fp16 turned into bf16 instead of fp32 (its weights and
# images in bf16, its BatchNorms in fp32 as published, its lookahead over the bf16 weights as over
# the fp16 ones), the dtype edit that gives it the bf16 convolutions the harness's default uses here.
_FP32_ONLY = ("images float32, not fp16", "network float32 on the CPU, not fp16 on cuda")
BF16_EDITS: list[tuple[str, str, str, int]] = [
    *(e for e in EDITS if e[0] not in _FP32_ONLY),
    ("images bf16, not fp16", "(self.images.half() / 255)", "(self.images.bfloat16() / 255)", 1),
    ("network bf16 on the CPU, not fp16 on cuda", "net = net.half().cuda()", "net = net.bfloat16()", 1),
    ("lookahead over the bf16 weights, as over fp16 ones", "net_param.dtype in (torch.half, torch.float)",
     "net_param.dtype in (torch.bfloat16, torch.float)", 1),
]
EDITS_FOR = {"cpu": EDITS, "cpu-bf16": BF16_EDITS, "cuda": GPU_EDITS}


def airbench_source(repo: Path) -> tuple[str, str]:
    """airbench94.py's text at the pinned commit, and the commit's full hash."""
    if not (repo / "HEAD").is_file() and not (repo / ".git").exists():
        raise SystemExit(f"no airbench git snapshot at {repo}: clone github.com/KellerJordan/cifar10-airbench "
                         "and pass --airbench-repo PATH")
    git = ["git", "-C", str(repo)]
    commit = subprocess.run([*git, "rev-parse", f"{AIRBENCH_COMMIT}^{{commit}}"], check=True, capture_output=True, text=True)
    text = subprocess.run([*git, "show", f"{AIRBENCH_COMMIT}:{AIRBENCH_FILE}"], check=True, capture_output=True, text=True)
    return text.stdout, commit.stdout.strip()


def edit(text: str, device: str = "cpu") -> str:
    """The text with `EDITS` (a CPU, fp32), `BF16_EDITS` ("cpu-bf16") or `GPU_EDITS` ("cuda") applied,
    each checked to match as often as expected."""
    assert "torch.compile" not in text, "the uncompiled airbench94 was expected"
    for what, old, new, times in EDITS_FOR[device]:
        found = text.count(old)
        assert found == times, f"airbench edit '{what}': {found} matches, expected {times}"
        text = text.replace(old, new)
    if device != "cuda":
        left = [w for w in ("cuda", ".half()", "elapsed_time") if w in text]
        assert not left, f"airbench still uses {left} after the CPU edits"
    return text


def class_files(folder: Path) -> dict[str, list[Path]]:
    """{class: its sorted .jpg files} of an ImageFolder split, classes sorted like torchvision's."""
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(folder.iterdir()) if d.is_dir()}


def copy_subset(photos: Path, dest: Path, per_class: int) -> Path:
    """The first `per_class` training and `per_class // 5` test photos of each class, copied to `dest`."""
    for split, n in (("train", per_class), ("test", max(1, per_class // 5))):
        for name, files in class_files(photos / split).items():
            (dest / split / name).mkdir(parents=True, exist_ok=True)
            for f in files[:n]:
                shutil.copy2(f, dest / split / name / f.name)
    return dest


def to_tensors(folder: Path, classes: list[str]) -> dict[str, Any]:
    """One split as airbench's CifarLoader reads it: uint8 NHWC images, int64 labels, class names."""
    import numpy as np
    import torch
    from PIL import Image

    files = class_files(folder)
    assert list(files) == classes, f"{folder}: classes {list(files)}, expected {classes}"
    images, labels = [], []
    for label, name in enumerate(classes):
        for f in files[name]:
            with Image.open(f) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
            labels.append(label)
    stacked = np.stack(images)
    assert stacked.shape[1:] == (32, 32, 3), f"{folder}: images of shape {stacked.shape[1:]}, expected 32x32 RGB"
    return {"images": torch.from_numpy(stacked), "labels": torch.tensor(labels, dtype=torch.int64), "classes": classes}


def airbench_data(photos: Path, dest: Path) -> list[str]:
    """train.pt and test.pt in `dest` from the photo folder; its classes (CIFAR's order: alphabetical)."""
    import torch

    classes = list(class_files(photos / "train"))
    dest.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        torch.save(to_tensors(photos / split, classes), dest / f"{split}.pt")
    return classes


def harness_run(out: Path, epochs: int, seed: int, scratch: Path, sets: list[str]) -> dict[str, Any]:
    """One `harness run` of fold 0 of 50: holdout accuracy, training seconds and images, wall, CPU, RSS."""
    budget = [f"train.epochs={epochs}", "cv.folds=50", "cv.only=[0]", f"train.seed={seed}",
              f"data.cache_dir='{scratch / 'cache'}'"]
    metrics, rows, wall, rss = timed_run(RECIPE, out, [*budget, *sets], ROOT)
    seconds = sum(r["epoch_seconds"] for r in rows)
    images = sum(r["train_img_per_s"] * r["epoch_seconds"] for r in rows)
    return {"seed": seed, "accuracy": metrics.get("holdout_score", float("nan")), "train_s": round(seconds, 2),
            "train_images": round(images), "img_per_s": round(images / max(seconds, 1e-9), 1),
            "epoch_seconds": [round(r["epoch_seconds"], 2) for r in rows], "wall_s": round(wall, 2),
            "cpu_s": round(last_cpu_seconds(), 1), "peak_rss_mib": round(rss)}


def airbench_run(script: Path, epochs: int, seed: int, runs: int = 1) -> dict[str, Any]:
    """One process of the edited airbench94.py in its folder, training `runs` models one after the
    other (on a GPU, 2: the first pays for cuDNN's autotuning and the kernels' loading, as a fresh
    harness process does): the last run's TTA accuracy and timers, the first's own timer when
    there are two, and the process's wall, CPU and RSS."""
    os.environ.update(AIRBENCH_EPOCHS=str(epochs), AIRBENCH_RUNS=str(runs))
    stdout, wall, rss = timed([sys.executable, script.name], script.parent)
    lines = [json.loads(x[len(RESULT_TAG):]) for x in stdout.splitlines() if x.startswith(RESULT_TAG)]
    if len(lines) != runs:
        raise SystemExit(f"airbench printed {len(lines)} result lines, expected {runs}:\n{stdout[-3000:]}")
    r = lines[-1]
    row = {"seed": seed, "accuracy": r["tta_val_acc"], "accuracy_no_tta": r["val_acc"],
           "train_s": round(r["train_seconds"], 2), "own_s": round(r["total_time_seconds"], 2),
           "train_images": r["train_images"], "img_per_s": round(r["train_images"] / max(r["train_seconds"], 1e-9), 1),
           "steps": r["steps"], "threads": r["threads"], "wall_s": round(wall, 2),
           "cpu_s": round(last_cpu_seconds(), 1), "peak_rss_mib": round(rss)}
    if runs > 1:
        first = lines[0]
        row.update(first_run_train_s=round(first["train_seconds"], 2), first_run_own_s=round(first["total_time_seconds"], 2),
                   first_run_accuracy=first["tta_val_acc"])
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy mean +- sd over seeds, and the mean of every other number."""
    acc = [r["accuracy"] for r in rows]
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k not in ("seed", "accuracy")]
    return {"accuracy": round(statistics.mean(acc), 4), "accuracy_sd": round(spread(acc), 4),
            **{k: round(statistics.mean(r[k] for r in rows), 2) for k in keys}}


def ratios(h: dict[str, Any], a: dict[str, Any]) -> dict[str, float]:
    """The harness arm's means over airbench's: training time, images/s, wall."""
    return {"harness_vs_airbench_train_s": round(h["train_s"] / a["train_s"], 3),
            "harness_vs_airbench_img_per_s": round(h["img_per_s"] / a["img_per_s"], 3),
            "harness_wall_vs_airbench_own_s": round(h["wall_s"] / a["own_s"], 3),
            "harness_vs_airbench_wall_s": round(h["wall_s"] / a["wall_s"], 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2, help="epochs of both arms (the harness needs a whole number)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--airbench-seeds", type=int, nargs="*", default=None,
                   help="the seeds airbench also runs (default: all of --seeds; none: the harness arm alone, "
                        "e.g. more of its seeds or epochs beside an earlier invocation's airbench)")
    p.add_argument("--harness-set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of the harness arm's recipe, as `harness run --set` takes it (repeatable), "
                        "e.g. train.batch_size=256 and train.lr=0.375 for the batch that suits a CPU")
    p.add_argument("--limit", type=int, default=0, help="smoke test: N training photos of each class (0: all)")
    p.add_argument("--airbench-repo", type=Path, default=AIRBENCH_REPO, help="the airbench git snapshot")
    p.add_argument("--airbench-file", type=Path, default=None,
                   help="a copy of airbench94.py at the pinned commit, instead of the git snapshot (a GPU machine "
                        "has none); with --airbench-commit, its full hash")
    p.add_argument("--airbench-commit", default=AIRBENCH_COMMIT)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: airbench as published (fp16, cuda events), 2 runs a process (the first a warm-up), "
                        "and the harness on the GPU with the recipe as it is")
    p.add_argument("--airbench-precision", choices=["fp32", "bf16"], default=None,
                   help="on a CPU, airbench's fp16 as fp32 (the default) or as bf16 (`BF16_EDITS`); a GPU "
                        "runs it in fp16 as published, so this is refused with --device cuda")
    p.add_argument("--photos", type=Path, default=PHOTOS, help="the CIFAR-10 ImageFolder (train/, test/)")
    p.add_argument("--scratch", type=Path, default=None, help="the scratch folder (default: a new temporary one)")
    args = p.parse_args()
    if args.device == "cuda":
        if args.airbench_precision is not None:
            raise SystemExit("--airbench-precision is for a CPU: on a GPU airbench94 runs in fp16, as published")
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no GPU here")
    scratch = args.scratch.resolve() if args.scratch else Path(tempfile.mkdtemp(prefix="airbench-bench-"))
    photos = args.photos.resolve()
    photos = copy_subset(photos, scratch / "photos", args.limit) if args.limit else photos
    sets = [f"data.root='{photos}'"] if args.limit or photos != PHOTOS else []
    airbench_seeds = args.seeds if args.airbench_seeds is None else args.airbench_seeds
    if not set(airbench_seeds) <= set(args.seeds):
        raise SystemExit(f"--airbench-seeds {airbench_seeds} must be among --seeds {args.seeds}")
    if args.airbench_file:
        source, commit = args.airbench_file.read_text(), args.airbench_commit
    else:
        source, commit = airbench_source(args.airbench_repo)
    variant = "cpu-bf16" if args.device == "cpu" and args.airbench_precision == "bf16" else args.device
    script = scratch / "airbench" / f"airbench94_{variant}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    classes = airbench_data(photos, script.parent / "cifar10") if airbench_seeds else CIFAR_CLASSES
    if classes != CIFAR_CLASSES:
        print(f"note: classes {classes} differ from CIFAR-10's; labels are consistent between the splits", flush=True)
    script.write_text(edit(source, variant))
    airbench_runs = 2 if args.device == "cuda" else 1
    print(f"scratch {scratch}; airbench {commit[:12]} edited into {script.name}; filling the harness's image array", flush=True)
    warmup = max(0.02, 50 / args.limit) if args.limit else 0.02  # >= 50 photos a class for the 50 stratified folds
    if args.device == "cuda":  # the whole array (its key is the files'), as airbench's train.pt is built once
        warmup = 1.0
    if not (scratch / "warmup" / "metrics.json").is_file():  # an earlier invocation in this scratch built it
        harness_run(scratch / "warmup", 1, 0, scratch, [*sets, f"data.fraction={warmup:g}"])  # builds the array; not recorded
    runs: dict[str, list[dict[str, Any]]] = {"harness": [], "airbench": []}
    for i, seed in enumerate(args.seeds):
        arms = ["harness", "airbench"] if i % 2 == 0 else ["airbench", "harness"]
        for arm in (a for a in arms if a == "harness" or seed in airbench_seeds):
            out = scratch / f"harness_e{args.epochs}_s{seed}"
            row = (harness_run(out, args.epochs, seed, scratch, [*sets, *args.harness_set])
                   if arm == "harness"
                   else airbench_run(script, args.epochs, seed, airbench_runs))
            runs[arm].append(row)
            print(f"seed {seed} {arm}: {json.dumps(row)}", flush=True)
    means = {arm: summarize(rows) for arm, rows in runs.items() if rows}
    summary = {
        "device": args.device, "airbench_commit": commit, "airbench_file": AIRBENCH_FILE,
        "airbench_edits": [e[0] for e in EDITS_FOR[variant]], "airbench_precision": variant,
        "airbench_runs_per_process": airbench_runs,
        "recipe": str(RECIPE), "harness_sets": args.harness_set, "epochs": args.epochs, "seeds": args.seeds,
        "airbench_seeds": airbench_seeds, "limit": args.limit,
        "train_images_per_epoch": {"harness": "fold 0 of 50 (49/50 of the training set)",
                                   "airbench": "all of it, batch 1024, drop_last"},
        "means": means,
        **(ratios(means["harness"], means["airbench"]) if "airbench" in means else {}),
        "raw": runs,
    }
    if args.limit:  # a smoke test: shown, not appended to the results
        print(json.dumps({k: v for k, v in summary.items() if k != "raw"}, indent=1))
    else:
        record("airbench", summary)


if __name__ == "__main__":
    main()
