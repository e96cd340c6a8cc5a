"""Issue 25's tuning that transfers, on the cifar10 competition: `harness tune
recipes/cifar10_tune.toml`, whose trials train fold 0 of 5 of `tune.fraction` (0.3) at batch 256
(as many updates an epoch as the full run, a quarter of its images), then the tuned `best.toml` and
the recipe as shipped (`recipes/cifar10.toml`), each trained on all the data (fold 0 of 50: 49,000
images) for the same epochs, over seeds, the two arms alternating. Every run goes through `harness
submit` and is scored on Private; a gain counts when the paired mean exceeds 2 sd of the paired
differences.

    python bench/accuracy/tune_cifar10.py --epochs 2 --trials 16 --seeds 0 1 2   (about 75 min on 2 cores)
    python bench/accuracy/tune_cifar10.py --epochs 1 --trials 2 --seeds 0 --refit-fraction 0.05 --work /tmp/t
                                                                                   (a smoke test)
    python bench/accuracy/tune_cifar10.py --epochs 2 --trials 16 --seeds 0 --refit-batch 256 --reuse
                                             (the same study; both arms trained at the trials' batch)
    python bench/accuracy/tune_cifar10.py --epochs 10 --trials 12 --seeds 0 1 2 --refit-batch 256 --work DIR
                  (the recipe's own 10 epochs, trials and full runs at batch 256: about 80 min, bf16)
    python bench/accuracy/tune_cifar10.py --epochs 10 --trials 10 --trial-fraction 1.0 --seeds 0 1 2 \
        --refit-batch 256 --work DIR      (trials on fold 0 of 5 of all the photos: 40,000 images, 1,563
                                           updates against the full run's 1,914; about 2 h, bf16)

When the study's best trial is its first, the recipe's own values, best.toml is the shipped recipe
and nothing is refit: the row records the study alone (a shipped run already in --work gives the
study's wall as a multiple of one full run).

With --refit-batch B both full runs train at batch B, the rate per 256 images (train.scale_lr): the
shipped arm is then recipes/cifar10_tune.toml (the shipped recipe with its rate given per 256
images; `harness run` ignores [tune]), the tuned arm best.toml, and their folders end in -bB.

The study's seed is fixed (tune.seed), so a rerun with --reuse and the same --work reads the study
and the finished runs back. Appends to bench/results/tune_cifar10.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import cifar10_competition, harness_cli, mean_sd, record, set_args, spread, submitted  # noqa: E402

ROOT = BENCH.parent
SHIPPED = ROOT / "recipes" / "cifar10.toml"
TUNE = ROOT / "recipes" / "cifar10_tune.toml"
DATA = ROOT.parent / "shared" / "data" / "cifar10"


def baseline_trial(tune_dir: Path) -> dict | None:
    """The study's first trial, the recipe's own values: its state and score."""
    import pandas as pd

    trials = pd.read_csv(tune_dir / "trials.csv")
    rows = trials[trials.baseline]
    columns = ["number", "state", "value", "cv_score_se"]
    return None if rows.empty else json.loads(rows[columns].iloc[:1].to_json(orient="records"))[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=2, help="train.epochs of the trials and of every full run")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--trial-fraction", type=float, default=0.0,
                    help="tune.fraction of the trials (0: the recipe's 0.3; 1.0: about the full run's updates)")
    ap.add_argument("--refit-fraction", type=float, default=1.0, help="data.fraction of the full runs (a smoke test)")
    ap.add_argument("--refit-batch", type=int, default=0, help="train.batch_size of the full runs (0: the recipes')")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_tune_cifar10")
    ap.add_argument("--reuse", action="store_true", help="read back the study and the finished runs in --work")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no {DATA}: this benchmark needs ../shared/data/cifar10")
    work = args.work.resolve()
    comp, board = cifar10_competition(work, DATA, ROOT)
    common = set_args([f"data.root='{comp}'", f"train.epochs={args.epochs}"])
    tune_dir = work / "tune"
    reused = args.reuse and (tune_dir / "best.toml").is_file()
    trial_sets = set_args([f"tune.fraction={args.trial_fraction}"]) if args.trial_fraction else []
    tune_wall = 0.0 if reused else harness_cli("tune", TUNE, "--out", tune_dir, "--trials", args.trials, *common,
                                               *trial_sets, root=ROOT)
    study = json.loads((tune_dir / "summary.json").read_text())
    if reused:  # the study's own wall time
        tune_wall = study["wall_seconds"]
    print(f"tune: {tune_wall:.0f} s, {study['complete']} complete, {study['pruned']} pruned, best trial "
          f"{study['best']['number']} {study['best']['value']:.4f} +- {study['best']['se']:.4f} (SE) "
          f"{study['best']['params']}", flush=True)
    recipes = {"shipped": TUNE if args.refit_batch else SHIPPED, "tuned": tune_dir / "best.toml"}
    baseline = baseline_trial(tune_dir)
    head = {"recipe": "recipes/cifar10_tune.toml", "epochs": args.epochs, "seeds": args.seeds,
            "trials": {k: study[k] for k in ("complete", "pruned", "failed") if k in study} | {"requested": args.trials},
            "trial_settings": study["trial_settings"], "full_run": f"fold 0 of 50, data.fraction {args.refit_fraction}",
            "full_run_batch": args.refit_batch or "the recipes'",
            "full_run_recipes": {arm: str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name)
                                 for arm, path in recipes.items()},
            "best_trial": {k: study["best"][k] for k in ("number", "value", "se", "rows", "params")},
            "baseline_trial": baseline, "caveats": study.get("caveats"), "tune_wall_s": round(tune_wall, 1)}
    suffix = f"-b{args.refit_batch}" if args.refit_batch else ""
    if baseline and baseline["number"] == study["best"]["number"]:
        walls = [json.loads(m.read_text())["wall_seconds"] for m in work.glob(f"shipped-s*{suffix}/metrics.json")]
        print("the best trial is the recipe's own values: best.toml is the shipped recipe, nothing to refit", flush=True)
        record("tune_cifar10", head | {
            "tune_vs_one_full_run": round(tune_wall / statistics.median(walls), 2) if walls else None, "table": None,
            "tuned_minus_shipped": "none: the recipe's own values won the study", "gain_counts": False, "raw": []})
        return
    full = set_args(["cv.folds=50", "cv.only=[0]", f"data.fraction={args.refit_fraction}"])
    if args.refit_batch:
        full += set_args([f"train.batch_size={args.refit_batch}"])
    rows = []
    for seed in args.seeds:
        for arm in (("shipped", "tuned") if seed % 2 == 0 else ("tuned", "shipped")):
            out = work / f"{arm}-s{seed}{suffix}"
            if not (args.reuse and (out / "metrics.json").is_file()):
                harness_cli("run", recipes[arm], "--out", out, *common, *full, "--set", f"train.seed={seed}", root=ROOT)
            public, private = submitted(board, out / "submission.csv", f"tune_cifar10 {arm} s{seed}{suffix} {work.name}", ROOT)
            metrics = json.loads((out / "metrics.json").read_text())
            rows.append({"arm": arm, "seed": seed, "cv": metrics["cv_score"], "public": public, "private": private,
                         "wall_s": round(metrics["wall_seconds"], 1)})
            print(rows[-1], flush=True)
    private = {arm: {r["seed"]: r["private"] for r in rows if r["arm"] == arm} for arm in recipes}
    gaps = [private["tuned"][s] - private["shipped"][s] for s in args.seeds]
    gap, sd = statistics.mean(gaps), spread(gaps)
    run_wall = statistics.median(r["wall_s"] for r in rows if r["arm"] == "shipped")
    table = {arm: {"private": mean_sd(list(private[arm].values())),
                   "cv": mean_sd([r["cv"] for r in rows if r["arm"] == arm]),
                   "wall_s": statistics.median(r["wall_s"] for r in rows if r["arm"] == arm)} for arm in recipes}
    record("tune_cifar10", head | {
        "tune_vs_one_full_run": round(tune_wall / run_wall, 2), "table": table, "tuned_minus_shipped": f"{gap:+.4f} +- {sd:.4f}",
        "gain_counts": bool(len(gaps) > 1 and gap > 2 * sd), "raw": rows})


if __name__ == "__main__":
    main()
