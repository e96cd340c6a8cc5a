"""Every stage of the competition loop at 10%, 30% and 100% of CIFAR-10's 50,000 training photos,
through the real CLI: wall time and peak RSS of each stage, and its cost per 1,000 rows.

    python bench/speed/scale.py                                  # fractions 0.1 0.3 1.0 (about an hour)
    python bench/speed/scale.py --fractions 0.1 --members 2      # a smoke run (minutes)

Stages, per fraction (the competition is made once, its images linked, not copied):
- `harness run recipes/cifar10.toml` on fold 0 for one epoch, its array cache empty: the screen with
  the first array build, an epoch, predicting the OOF rows and the 10,000 test photos with both
  TTA views, writing the fold's logits, OOF and submission (the run's `stage_seconds`);
- the members of the ensemble: K-fold runs of a small network (one epoch each), which reuse that
  array (their screen is the reuse figure), so that every training row has an OOF prediction;
- `harness ensemble` of the members: mean, and hill climbing with its nested check;
- `harness report` of the run and of the ensemble; `harness predict` of the 10,000 test photos;
- `harness submit` and `harness leaderboard`.

Appends one row, with the machine, to bench/results/scale.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import record, set_args, timed  # noqa: E402

from harness.outputs.epoch_log import read_log  # noqa: E402

ROOT = BENCH.parent
DATA = ROOT.parent / "shared" / "data" / "cifar10"
RECIPE = ROOT / "recipes" / "cifar10.toml"


def harness(*args: str | Path, cwd: Path) -> tuple[str, float, float]:
    return timed([sys.executable, "-m", "harness", *map(str, args)], cwd, stderr_too=True)


def _epoch_seconds(run: Path) -> float:
    rows = read_log(run)
    epochs = [r["epoch_seconds"] for r in rows if "epoch_seconds" in r]
    return statistics.median(epochs)


def one_fraction(fraction: float, comp: Path, board: Path, scratch: Path, members: int, folds: int,
                 member_sets: list[str]) -> dict[str, Any]:
    where = scratch / f"f{fraction:g}"
    where.mkdir()
    base = set_args([f"data.root='{comp}'", f"data.fraction={fraction}", f"data.cache_dir='{where / 'cache'}'",
                     "train.epochs=1", f"cv.folds={folds}"])
    stages: dict[str, dict[str, float]] = {}

    def stage(name: str, wall: float, rss: float) -> None:
        stages[name] = {"wall_s": round(wall, 3), "peak_rss_mib": round(rss, 1)}
        print(f"  {fraction:g} {name}: {wall:.2f} s, {rss:.0f} MiB", flush=True)

    out, wall, rss = harness("run", RECIPE, "--out", where / "run", *base, *set_args(["cv.only=[0]"]), cwd=ROOT)
    metrics = json.loads((where / "run" / "metrics.json").read_text())
    run_json = json.loads((where / "run" / "run.json").read_text())
    rows = int(run_json.get("train_rows", 0)) or sum(1 for _ in open(where / "run" / "folds.csv")) - 1
    timing = metrics["stage_seconds"]
    stage("run (fold 0, 1 epoch)", wall, rss)
    stages["screen + first array build"] = {"wall_s": timing["screen"]}
    stages["epoch"] = {"wall_s": round(_epoch_seconds(where / "run"), 3)}
    stages["predict OOF + test, TTA"] = {"wall_s": timing["predict"]}
    stages["write fold + OOF + submission"] = {"wall_s": round(timing["write_folds"] + timing["write_run"], 3)}
    print(f"  {fraction:g} stages of the run: {json.dumps(timing)}", flush=True)

    reuse: list[float] = []
    member_dirs = []
    for m in range(members):
        run = where / f"member{m}"
        _, wall, rss = harness("run", RECIPE, "--out", run, *base, *member_sets, *set_args([f"train.seed={m}"]), cwd=ROOT)
        reuse.append(json.loads((run / "metrics.json").read_text())["stage_seconds"]["screen"])
        member_dirs.append(run)
        stage(f"member {m} ({folds} folds)", wall, rss)
    stages["array reuse (screen)"] = {"wall_s": round(statistics.median(reuse), 3)}

    _, wall, rss = harness("ensemble", *member_dirs, "--out", where / "ens_mean", cwd=ROOT)
    stage(f"ensemble mean of {members}", wall, rss)
    _, wall, rss = harness("ensemble", *member_dirs, "--out", where / "ens_hill", "--method", "hill_climb", cwd=ROOT)
    stage(f"ensemble hill climbing of {members} (nested)", wall, rss)
    _, wall, rss = harness("report", where / "run", cwd=ROOT)
    stage("report (run)", wall, rss)
    _, wall, rss = harness("report", where / "ens_hill", cwd=ROOT)
    stage("report (ensemble)", wall, rss)
    _, wall, rss = harness("predict", where / "run", comp / "test", "--out", where / "predict.csv", cwd=ROOT)
    stage("predict 10,000 test photos", wall, rss)
    _, wall, rss = harness("submit", where / "ens_hill" / "submission.csv", "--competition", "cifar10",
                           "--board", board, "--message", f"scale {fraction:g}", cwd=ROOT)
    stage("submit", wall, rss)
    _, wall, rss = harness("leaderboard", "cifar10", "--board", board, cwd=ROOT)
    stage("leaderboard", wall, rss)
    ens = json.loads((where / "ens_hill" / "metrics.json").read_text())
    return {"fraction": fraction, "train_rows": rows, "stages": stages,
            "run_cv_score": metrics["cv_score"], "ensemble_cv_score": ens.get("cv_score"),
            "peak_rss_mib": max(s.get("peak_rss_mib", 0.0) for s in stages.values())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--member-set", dest="member_sets", action="append",
                   default=["model.source='timm'", "model.name='test_resnet'"],
                   help="--set for the ensemble's member runs (default: timm's test_resnet, a small network)")
    args = p.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no {DATA}: this benchmark needs ../shared/data/cifar10")
    scratch = Path(tempfile.mkdtemp(prefix="harness-scale-"))
    comp, board = scratch / "comp", scratch / "board"
    _, wall, rss = harness("competition", "new", "cifar10", "--from", DATA, "--out", comp, "--board", board, "--link",
                           cwd=ROOT)
    print(f"competition new (links): {wall:.2f} s, {rss:.0f} MiB", flush=True)
    rows = [one_fraction(f, comp, board, scratch, args.members, args.folds, set_args(args.member_sets))
            for f in args.fractions]
    record("scale", {"fractions": args.fractions, "members": args.members, "folds": args.folds,
                     "member_sets": args.member_sets, "competition_new_s": round(wall, 3), "rows": rows,
                     "scratch": str(scratch)})


if __name__ == "__main__":
    main()
