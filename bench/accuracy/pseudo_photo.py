"""Pseudo-labels on a photo set: the photo-set ensemble (Lite0, Lite1 and Lite2 fine-tuned whole,
averaged) labels the competition's unlabelled test photos, and each of its three networks trains
again with them; the students' mean is the submission.

    python bench/accuracy/pseudo_photo.py --scratch DIR                     # hymenoptera, seeds 0 1 2
    python bench/accuracy/pseudo_photo.py --set clothing --seeds 0 --scratch DIR

The data is the Kaggle-style competition that `harness competition new` makes from the photo
set: train/ is the labelled training set and val/ becomes test/, unlabelled for the competitor,
its answer key kept apart. So pseudo-labelling the test photos never trains on a label it is
scored on, and each submission is scored on the whole answer key (every val/ photo: the
photo-set targets' split). Clothing's test/ split, which the competition leaves out, is
predicted from each run folder and scored too.

For each seed (`train.seed`; the folds are the recipes' `cv.seed`, shared by every run):
1. the teacher's members: `recipes/finetune.toml`, `finetune_lite1.toml`, `finetune_lite2.toml`;
2. the teacher: `harness ensemble` (mean) of the three;
3. the students: the same three recipes with `callbacks.teacher.source = "soft_labels"`,
   `run` = the teacher's ensemble folder and `pseudo.images = "test"`: student fold k trains on
   its labelled photos plus every test photo, with the teacher's fold-k probabilities (the mean of
   the three fold-k models, which never saw fold k's labels) as targets;
4. the students' mean (`harness ensemble`).

Finished runs in --scratch are read back, so the same command continues a killed benchmark.
Prints a table of mean ± sd over the seeds and appends it to bench/results/pseudo_photo.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import answer_key_accuracy, record, set_args, spread, timed  # noqa: E402
from labelled import SPLITS, predict_labelled  # noqa: E402

ROOT = BENCH.parent
MODELS = {"finetune": "finetune.toml", "lite1": "finetune_lite1.toml", "lite2": "finetune_lite2.toml"}


def run(recipe: str, out: Path, sets: list[str]) -> float:
    """`harness run` into `out` unless it finished there; its wall seconds."""
    if not (out / "metrics.json").is_file():
        shutil.rmtree(out, ignore_errors=True)  # a killed run starts again
        timed([sys.executable, "-m", "harness", "run", str(ROOT / "recipes" / recipe), "--out", str(out), "-q",
               *set_args(sets)], ROOT)
    return float(json.loads((out / "metrics.json").read_text())["wall_seconds"])


def ensemble(members: list[Path], out: Path) -> float:
    """`harness ensemble` (mean) into `out` unless it finished there; its wall seconds (0: read back)."""
    if (out / "submission.csv").is_file():
        return 0.0
    shutil.rmtree(out, ignore_errors=True)
    return timed([sys.executable, "-m", "harness", "ensemble", *map(str, members), "--out", str(out), "-q"], ROOT)[1]


Predictions = dict[Path, dict[str, tuple[np.ndarray, np.ndarray]]]  # run folder -> split -> (labels, probabilities)


def other_splits(members: list[Path], data: Path, known: Predictions) -> dict[str, float]:
    """Accuracy of the members' mean probability on the set's labelled splits that the competition
    leaves out (clothing test/), each run predicting with its fold models once (kept in `known`)."""
    for m in members:
        if m not in known:
            known[m] = {split: predict_labelled(m, data / split) for split in SPLITS[data.name][1:]}
    out = {}
    for split in SPLITS[data.name][1:]:
        labels = known[members[0]][split][0]
        probs = np.mean([known[m][split][1] for m in members], axis=0)
        out[split] = float((probs.argmax(1) == labels).mean())
    return out


def seed_rows(seed: int, comp: Path, data: Path, scratch: Path, models: list[str], everywhere: list[str],
              extra: list[str]) -> dict[str, dict]:
    common = [f"data.root='{comp}'", "data.extension='.jpg'", f"data.cache_dir='{scratch / 'cache'}'", f"train.seed={seed}",
              *everywhere]
    rows: dict[str, dict] = {}
    known: Predictions = {}

    def score(name: str, folder: Path, wall: float, members: list[Path] | None = None) -> None:
        rows[name] = {"val": answer_key_accuracy(folder, comp), "wall_s": wall,
                      **other_splits(members or [folder], data, known)}
        print(f"seed {seed} {name}: {json.dumps(rows[name])}", flush=True)

    teachers = []
    for m in models:
        out = scratch / f"{m}-{seed}"
        score(m, out, run(MODELS[m], out, common))
        teachers.append(out)
    teacher = scratch / f"teacher-{seed}"
    score("mean", teacher, ensemble(teachers, teacher), teachers)
    pseudo = ["callbacks.teacher.source='soft_labels'", f"callbacks.teacher.run='{teacher}'",
              "callbacks.teacher.pseudo.images='test'", *extra]
    students = []
    for m in models:
        out = scratch / f"{m}-pseudo-{seed}"
        score(f"{m}_pseudo", out, run(MODELS[m], out, [*common, *pseudo]))
        students.append(out)
    both = scratch / f"students-{seed}"
    score("mean_pseudo", both, ensemble(students, both), students)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", dest="photo_set", choices=sorted(SPLITS), default="hymenoptera")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the folder of the photo sets")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    p.add_argument("--run-set", nargs="*", default=[], help="KEY=VALUE overrides for every run (a smoke test: "
                   "train.epochs=1 'cv.only=[0]')")
    p.add_argument("--student-set", nargs="*", default=[], help="more KEY=VALUE overrides for the students only")
    p.add_argument("--scratch", type=Path, required=True)
    args = p.parse_args()
    data = (args.data / args.photo_set).resolve()
    scratch = args.scratch.resolve()
    comp = scratch / "comp"
    if not (comp / "train.csv").is_file():
        timed([sys.executable, "-m", "harness", "competition", "new", f"{args.photo_set}-pseudo", "--from", str(data),
               "--out", str(comp), "--board", str(scratch / "board"), "--link", "--force"], ROOT)
    per_seed = {seed: seed_rows(seed, comp, data, scratch, args.models, args.run_set, args.student_set) for seed in args.seeds}
    names = list(per_seed[args.seeds[0]])
    splits = ["val", *SPLITS[args.photo_set][1:]]
    print(f"\n| arm ({len(args.seeds)} seeds) | " + " | ".join(f"{s}/ accuracy" for s in splits) + " | wall s |")
    print("|---|" + "---|" * len(splits) + "---|")
    table = {}
    for name in names:
        cells = {s: [per_seed[seed][name][s] for seed in args.seeds] for s in [*splits, "wall_s"]}
        table[name] = {s: {"mean": statistics.mean(v), "sd": spread(v)} for s, v in cells.items()}
        print(f"| {name} | " + " | ".join(f"{statistics.mean(cells[s]):.4f} ± {spread(cells[s]):.4f}" for s in splits)
              + f" | {statistics.mean(cells['wall_s']):.0f} |")
    gaps = [per_seed[s]["mean_pseudo"]["val"] - per_seed[s]["mean"]["val"] for s in args.seeds]
    print(f"\nstudents' mean - teacher, val/, paired: {statistics.mean(gaps):+.4f} ± {spread(gaps):.4f}")
    record("pseudo_photo", {"set": args.photo_set, "seeds": args.seeds, "models": args.models,
                            "run_sets": args.run_set, "student_sets": args.student_set, "scratch": str(scratch), "table": table,
                            "paired_gap_val": {"mean": statistics.mean(gaps), "sd": spread(gaps)},
                            "raw": {str(k): v for k, v in per_seed.items()}})


if __name__ == "__main__":
    main()
