"""Knowledge distillation on real photos: an EfficientNet-Lite2 fold ensemble teaches an
EfficientNet-Lite0 student, over several seeds on shared folds.

    python bench/accuracy/distill.py --seeds 3                       # the full comparison (30-40 min on 2 idle cores)
    python bench/accuracy/distill.py --seeds 1 --folds 2 --epochs 1 --only alone js_pseudo   # a smoke test

The data is the Kaggle-style competition `harness competition new` makes from
../shared/data/hymenoptera: train/ is the labelled training set, val/ becomes test/, unlabelled for
the competitor, with the answer key kept apart. So pseudo-labelling the test images never scores
on labels it trained on, and the holdout score is the submission scored on the whole answer key.

Every run is `recipes/lite0_finetune.toml` (head on frozen ImageNet features, warm-up + cosine,
smoothing, EMA, flip TTA) through the real CLI, on 3 folds by default, with cv.seed fixed (shared
folds) and train.seed varied. The teacher is one run with model.name = efficientnet_lite2; its stored OOF and per-fold
test predictions are the soft labels (`callbacks.teacher.source = "soft_labels"`: no teacher
forward pass). Variants:

- `alone`: the student on the labels;
- `kl`, `js`: distilled, Hinton's KL or the Jensen-Shannon divergence (alpha 0.5, T 2);
- `js_pseudo`: js, plus the test images pseudo-labelled (soft) by the teacher's fold-k model;
- `js_rule`: js at a tenth of the learning rate and twice the epochs (the seeds' rule for
  distillation); `alone_rule`: the same schedule without a teacher, the rule's control.

Prints a table of mean ± sd of CV and holdout accuracy; appends everything to
bench/results/distill.jsonl. Run again with the same --scratch, it reads back finished runs and
resumes an interrupted one (`harness run --resume`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import answer_key_accuracy, record, set_args, spread, timed  # noqa: E402

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "lite0_finetune.toml"
LR, EPOCHS = 0.01, 6  # recipes/lite0_finetune.toml's


def variants(teacher: Path, epochs: int) -> dict[str, list[str]]:
    distill = ["loss.name='distill'", "loss.alpha=0.5", "loss.temperature=2.0", "callbacks.teacher.source='soft_labels'",
               f"callbacks.teacher.run='{teacher}'"]
    rule = [f"train.lr={LR / 10}", f"train.epochs={2 * epochs}"]
    return {
        "alone": [],
        "kl": [*distill, "loss.divergence='kl'"],
        "js": [*distill, "loss.divergence='js'"],
        "js_pseudo": [*distill, "loss.divergence='js'", "callbacks.teacher.pseudo.images='test'"],
        "js_rule": [*distill, "loss.divergence='js'", *rule],
        "alone_rule": rule,
    }


def harness_run(out: Path, sets: list[str]) -> dict[str, float]:
    """One run; a finished one in `out` is read back and an interrupted one resumed, so the same
    command continues a benchmark that was killed."""
    resumed = False
    if not (out / "metrics.json").is_file():
        start = time.perf_counter()
        resumed = (out / "recipe.toml").is_file()  # the run's recorded recipe: --resume takes no --set
        if not resumed:
            shutil.rmtree(out, ignore_errors=True)
        args = ["--resume"] if resumed else set_args(sets)
        timed([sys.executable, "-m", "harness", "run", str(RECIPE), "--out", str(out), *args], ROOT)
        if not resumed:
            return {"cv": json.loads((out / "metrics.json").read_text())["cv_score"], "seconds": time.perf_counter() - start}
    m = json.loads((out / "metrics.json").read_text())  # read back, or resumed: the seconds of its last process
    return {"cv": m["cv_score"], "seconds": m["wall_seconds"], **({"resumed": 1.0} if resumed else {})}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--folds", type=int, default=3, help="3 folds of 163 images: half the cost of lite0_finetune's 5")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--teacher-size", type=int, default=224, help="the Lite2 teacher's image size (the student's: 192)")
    p.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    p.add_argument("--scratch", type=Path, default=None)
    args = p.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="harness-distill-"))
    comp = scratch / "comp"
    if not (comp / "train.csv").is_file():
        timed([sys.executable, "-m", "harness", "competition", "new", "hymenoptera-distill", "--from", str(args.data.resolve()),
               "--out", str(comp), "--board", str(scratch / "board"), "--link", "--force"], ROOT)
    common = [f"data.root='{comp}'", "data.extension='.jpg'", f"data.cache_dir='{scratch / 'cache'}'",
              f"cv.folds={args.folds}", "cv.seed=42", f"train.epochs={args.epochs}"]
    teacher = scratch / "teacher"
    if not (teacher / "run.json").is_file():
        t = harness_run(teacher, [*common, "model.name='efficientnet_lite2'", f"data.image_size={args.teacher_size}",
                                  "train.seed=0"])
        print(f"teacher (Lite2): {json.dumps(t)} holdout {answer_key_accuracy(teacher, comp):.4f}", flush=True)
    teacher_scores = {"cv": json.loads((teacher / "metrics.json").read_text())["cv_score"],
                      "holdout": answer_key_accuracy(teacher, comp)}
    table = variants(teacher, args.epochs)
    names = args.only or list(table)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for seed in range(args.seeds):
        for name in names:
            out = scratch / f"{name}-{seed}"
            r = harness_run(out, [*common, f"train.seed={seed}", *table[name]])
            r["holdout"] = answer_key_accuracy(out, comp)
            results[name].append(r)
            print(f"seed {seed} {name}: {json.dumps(r)}", flush=True)
    print(f"\nteacher (EfficientNet-Lite2, {args.teacher_size} px, seed 0): CV {teacher_scores['cv']:.4f}, "
          f"holdout {teacher_scores['holdout']:.4f}")
    print(f"\n| student (Lite0), {args.seeds} seeds | CV accuracy, mean ± sd | holdout accuracy, mean ± sd | seconds per run |")
    print("|---|---|---|---|")
    for name, rs in results.items():
        cv, hold = [r["cv"] for r in rs], [r["holdout"] for r in rs]
        print(f"| {name} | {statistics.mean(cv):.4f} ± {spread(cv):.4f} | {statistics.mean(hold):.4f} ± {spread(hold):.4f} | "
              f"{statistics.mean(r['seconds'] for r in rs):.0f} |")
    record("distill", {"seeds": args.seeds, "folds": args.folds, "epochs": args.epochs, "teacher_size": args.teacher_size,
                       "teacher": teacher_scores, "scratch": str(scratch), "results": results})


if __name__ == "__main__":
    main()
