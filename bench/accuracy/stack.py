"""The seeds' stack against a plain baseline on CIFAR-10, scored like Kaggle: on the Private half
of the 10,000 test photos, mean +- sd over seeds, each arm's gain paired with the baseline's run
of the same seed.

The competition is `harness competition new cifar10 --from ../shared/data/cifar10 --link`: the
test photos are unlabelled for the runs, their answer key split into Public and Private. Every run
is `recipes/cifar10.toml` screened on one fold of `data.fraction` (default: 0.1, fold 0, 10 epochs,
batch 256 at a quarter of the lr, as the recipe says for a screen), through the real CLI, and its
submission goes through `harness submit`. Arms:

- `baseline`: the recipe without label smoothing (loss.smoothing = 0);
- `smoothing`: label smoothing 0.2 (the recipe as shipped);
- `cutmix`: CutMix (alpha 1) on the batch;
- `balanced`: the class-balanced sampler;
- `js`: Jensen-Shannon distillation (alpha 0.5, T 2) from a teacher's out-of-fold soft labels;
- `stack`: all four together; `stack_no_cutmix`: the other three.

With `--arms kl js js_pseudo`, issue 25's distillation table (the student alone is the baseline):

- `kl`: distillation as `js`, with Hinton's KL divergence (teacher || student);
- `js_pseudo`: `js`, and the 10,000 test photos join training, soft-labelled by the teacher's fold-0
  model (the one that never saw fold 0's labels; `callbacks.teacher.pseudo.images = "test"`).
- `js_calibrated`: `js` with the teacher's soft labels first rescaled by the temperature that fits its
  OOF labels (`callbacks.teacher.calibrate`): the label-smoothed teacher is flat, and this sharpens it.

With `--arms kl kl_stored`, the same for stored soft labels: `kl` reads each row's OOF prediction,
`kl_stored` what `harness soft-labels` stored (the fold-0 model's predictions of its own training
rows, written once before the students).

With `--arms kl_run kl_fold`, whether distilling from out-of-fold soft labels leaks the student's
validation fold into its CV (the CV - Private column):

- `kl_run`: `kl` from the teacher's fold models run on each batch, each row labelled by the model that
  left it out (`callbacks.teacher.rows = "oof"`), but every one of those trained on fold 0's labels;
- `kl_fold`: the same, every row labelled by the teacher's fold-0 model (`rows = "fold"`), which never
  saw fold 0: the student's CV cannot be lifted by fold 0's labels.

With `--student lite0`, the same arms where the seeds measured their stack: every student is
ImageNet-pretrained EfficientNet-Lite0 fine-tuned whole at 64 px (AdamW at 1e-3 for batch 128, as the
`lite0` members of ensemble_cifar10.py), and the teacher a bigger pretrained network, EfficientNet-Lite2,
fine-tuned the same way at 96 px for --teacher-epochs (predicting with the identity and mirror views only, to
spare the teacher's 5 x 10,000 test predictions).

The teacher is the recipe (or Lite2) trained for --teacher-epochs (default 20, twice the student's) on all 5
folds of the same fraction: the OOF predictions of folds 1-4 cover every image fold 0's student
trains on, and fold 0's model, which never saw fold 0's labels, gives the fold-safe pseudo-labels
of the `js_pseudo` arm.

    python bench/accuracy/stack.py --seeds 0 1 2              (about 90 min on 2 cores)
    python bench/accuracy/stack.py --seeds 0 1 2 --reuse --arms kl js js_pseudo   (then: the distillation table)
    python bench/accuracy/stack.py --seeds 0 --epochs 1 --teacher-epochs 1 --work /tmp/s   (a smoke test)
    python bench/accuracy/stack.py --student lite0 --teacher-epochs 8 --arms cutmix js stack   (fine-tuned)

A gain counts when the paired mean exceeds 2 sd of the paired differences (issue 25's rule).
Run again with --reuse and the same --work, finished runs are read back. Appends to
bench/results/stack.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    CIFAR_LITE0,
    cifar10_competition,
    harness_cli,
    mean_sd,
    record,
    screen_budget,
    screen_options,
    set_args,
    spread,
    submitted,
)

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "cifar10.toml"
DATA = ROOT.parent / "shared" / "data" / "cifar10"
SMOOTH = ["loss.smoothing=0.2"]
CUTMIX = ["batch_transforms.mixup_cutmix.cutmix_alpha=1.0", "batch_transforms.mixup_cutmix.mixup_alpha=0.0"]
BALANCED = ["sampler.name='class_balanced'"]
STACK_TABLE = ["smoothing", "cutmix", "balanced", "js", "stack"]
# Each student's settings on top of the recipe: airbench at the recipe's rate per image for a screen's batch of
# 256 (1024 makes 3 batches an epoch of 4,000 photos), lite0 fine-tuned (--batch and --lr override either).
STUDENTS = {"airbench": ["train.batch_size=256", "train.lr=0.375"], "lite0": CIFAR_LITE0}
# The teacher's settings on top of its student's. Lite2 at 64 px scored no better than Lite0 (0.76 after 10 epochs
# on fold 0 of the screen): at 96 px it is the bigger teacher the seeds mean, for 2.25x the pixels; 2 TTA views,
# since its test predictions go unused.
TEACHERS = {"airbench": [], "lite0": ["model.name='efficientnet_lite2'", "data.image_size=96",
                                      "batch_transforms.crop_flip.pad=6", "tta.views=['identity','hflip']"]}
TEACHER_NAMES = {"airbench": "", "lite0": "Lite2 at 96 px, "}  # how the summary names a teacher that is not the recipe


def distill(smoothing: float, divergence: str) -> list[str]:
    return ["loss.name='distill'", f"loss.divergence='{divergence}'", "loss.alpha=0.5", "loss.temperature=2.0",
            f"loss.smoothing={smoothing}"]


def js(teacher: Path, smoothing: float, divergence: str = "js", rows: str = "oof") -> list[str]:
    """Distillation from the teacher's stored soft labels (its 6 views pooled): each row's OOF
    prediction, or (rows = "fold") what `harness soft-labels` stored, the fold-0 model's."""
    return [*distill(smoothing, divergence), "callbacks.teacher.source='soft_labels'",
            f"callbacks.teacher.run='{teacher}'", "callbacks.teacher.tta=true", f"callbacks.teacher.rows='{rows}'"]


def arms(teacher: Path) -> dict[str, list[str]]:
    return {"baseline": ["loss.smoothing=0.0"], "smoothing": SMOOTH, "cutmix": ["loss.smoothing=0.0", *CUTMIX],
            "balanced": ["loss.smoothing=0.0", *BALANCED], "js": js(teacher, 0.0),
            "stack": [*CUTMIX, *BALANCED, *js(teacher, 0.2)],
            "stack_no_cutmix": [*BALANCED, *js(teacher, 0.2)],  # the stack without the trick that underfits
            # the distillation table (--arms kl js js_pseudo): Hinton's KL, and JS with pseudo-labels
            "kl": js(teacher, 0.0, "kl"), "js_pseudo": [*js(teacher, 0.0), "callbacks.teacher.pseudo.images='test'"],
            "js_calibrated": [*js(teacher, 0.0), "callbacks.teacher.calibrate=true"],
            # does the teacher leak the student's validation fold? (--arms kl_run kl_fold)
            "kl_run": live(teacher, "oof"), "kl_fold": live(teacher, "fold"),
            # and stored soft labels made fold-safe by `harness soft-labels` (--arms kl kl_stored)
            "kl_stored": js(teacher, 0.0, "kl", rows="fold")}


def live(teacher: Path, rows: str) -> list[str]:
    """KL from the teacher's fold models run on each batch (first view only, to keep the cost down):
    rows = "oof" labels a row with the model that left it out, "fold" with the student's fold's."""
    return [*distill(0.0, "kl"), "callbacks.teacher.source='run'", f"callbacks.teacher.run='{teacher}'",
            "callbacks.teacher.tta=false", f"callbacks.teacher.rows='{rows}'"]


def pair(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), spread(values)


def harness(*args: object) -> float:
    return harness_cli(*args, root=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    screen_options(ap, 0.1, ROOT / "runs" / "bench_stack", "read back finished runs in --work (default: "
                   "runs/bench_stack, or runs/bench_stack_lite0 with --student lite0)")
    ap.add_argument("--teacher-epochs", type=int, default=20)
    ap.add_argument("--student", choices=list(STUDENTS), default="airbench",
                    help="airbench: the recipe from scratch at 32 px; lite0: pretrained Lite0 fine-tuned at 64 px, "
                         "taught by Lite2 at 96 px")
    ap.add_argument("--batch", type=int, help="train.batch_size of every run (default: the student's, airbench 256, "
                    "the recipe's 1024 at a screen's scale; lite0 128)")
    ap.add_argument("--lr", type=float, help="train.lr of every run (default: the student's, airbench 0.375, the "
                    "recipe's 1.5 x batch / 1024; lite0 0.001)")
    ap.add_argument("--arms", nargs="+", default=STACK_TABLE, choices=list(arms(Path("teacher"))),
                    help="the arms (baseline always runs; default: the stack table's)")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no {DATA}: this benchmark needs ../shared/data/cifar10")
    default_work = args.work == ROOT / "runs" / "bench_stack"
    work = (args.work.with_name("bench_stack_lite0") if default_work and args.student == "lite0" else args.work).resolve()
    comp, board = cifar10_competition(work, DATA, ROOT)
    common = [f"data.root='{comp}'", *STUDENTS[args.student], *([f"train.batch_size={args.batch}"] if args.batch else []),
              *([f"train.lr={args.lr}"] if args.lr else [])]
    budget = screen_budget(args)
    teacher = work / "teacher"
    if not (args.reuse and (teacher / "metrics.json").is_file()):
        wall = harness("run", RECIPE, "--out", teacher, *set_args(common), *budget, *set_args(
            [*TEACHERS[args.student], "cv.only=[0,1,2,3,4]", f"train.epochs={args.teacher_epochs}", "train.seed=100"]))
        print(f"teacher: {wall:.0f} s", flush=True)
    teacher_cv = json.loads((teacher / "metrics.json").read_text())["cv_score"]
    if "kl_stored" in args.arms and not (teacher / "fold0" / "in_sample.npz").is_file():
        wall = harness("soft-labels", teacher, "--folds", "0")  # the students train fold 0 alone
        print(f"harness soft-labels --folds 0: {wall:.0f} s", flush=True)
    plan = arms(teacher)
    names = ["baseline", *[a for a in args.arms if a != "baseline"]]
    rows = []
    for seed in args.seeds:
        for name in names:
            out = work / f"{name}-s{seed}"
            message = f"stack {name} s{seed} {work.name}"
            if not (args.reuse and (out / "metrics.json").is_file()):
                harness("run", RECIPE, "--out", out, *set_args(common), *budget, *set_args(plan[name]),
                        "--set", f"train.seed={seed}")
            public, private = submitted(board, out / "submission.csv", message, ROOT)
            metrics = json.loads((out / "metrics.json").read_text())
            rows.append({"arm": name, "seed": seed, "cv": metrics["cv_score"], "public": public, "private": private,
                         "wall_s": round(metrics["wall_seconds"], 1)})
            print(rows[-1], flush=True)
    taught_by = f"{TEACHER_NAMES[args.student]}{args.teacher_epochs} epochs, 5 folds, CV {teacher_cv:.4f}"
    summary: dict = {"recipe": "recipes/cifar10.toml", "student": args.student,
                     "budget": " ".join([*set_args(common[1:]), *budget]), "seeds": args.seeds, "teacher": taught_by,
                     "arms": {n: plan[n] for n in names}}
    base = {r["seed"]: r["private"] for r in rows if r["arm"] == "baseline"}
    table = {}
    for name in names:
        mine = [r for r in rows if r["arm"] == name]
        private = [r["private"] for r in mine]
        gaps = [r["private"] - base[r["seed"]] for r in mine]
        gap, sd = pair(gaps)
        table[name] = {"private": mean_sd(private),
                       "cv": f"{statistics.mean(r['cv'] for r in mine):.4f}",
                       "gap_vs_baseline": f"{gap:+.4f} +- {sd:.4f}",
                       "cv_minus_private": mean_sd([r["cv"] - r["private"] for r in mine], signed=True),
                       "gain_counts": bool(name != "baseline" and len(gaps) > 1 and gap > 2 * sd),
                       "wall_s": statistics.median(r["wall_s"] for r in mine)}
        print(f"{name:10s} private {table[name]['private']}  gap {table[name]['gap_vs_baseline']}"
              f"  counts: {table[name]['gain_counts']}  cv-private {table[name]['cv_minus_private']}", flush=True)
    summary["table"], summary["raw"] = table, rows
    record("stack", summary)


if __name__ == "__main__":
    main()
