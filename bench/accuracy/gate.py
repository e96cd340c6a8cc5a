"""The gate against unknown images, on CIFAR-10 with two classes held out of training.

The main run learns 8 classes (train/ less `--unknown`); the 8 classes' 8,000 test photos are its
labelled holdout, and the held-out classes' 2,000 test photos are the unknowns it never saw. Three
gates, each with its threshold chosen on the main run's OOF for 95% in-domain recall:
- max_softmax (the baseline) and energy, from the main run's own logits;
- a gate run: the same recipe, trained on the 8 classes ("known") against a folder of other photos
  ("unknown": hymenoptera's and clothing's training photos, resized to 32 px), class-balanced.
Each gate goes through the real CLI (`harness gate`, then `harness predict --reject` of all 10,000
test photos, and of 521 photos of other kinds that no run trained on: clothing's val/ and test/,
hymenoptera's val/). Per gate: AUROC of its score (in-domain positive) against the held-out
classes ("near" unknowns) and against the other photos ("far"), the in-domain recall that the OOF
threshold reaches on the test photos, the accuracy of the main run on the in-domain photos the
gate accepts, and the share of each kind of unknown it lets through (FPR at the threshold).

    python bench/accuracy/gate.py --seeds 0 1 2 [--fraction 0.2 --epochs 10] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import mean_sd, record, screen_budget, screen_options, timed  # noqa: E402

ROOT = BENCH.parent
SHARED = ROOT.parent / "shared" / "data"
GATES = ("max_softmax", "energy", "gate_run")
FAR = {"clothing": ("val", "test"), "hymenoptera": ("val",)}  # photos of other kinds, none trained on


def link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and not (dst / f.name).exists():
            (dst / f.name).symlink_to(f.resolve())


def build_data(work: Path, unknown: list[str]) -> tuple[Path, Path, Path, Path]:
    """The 8-class competition, the unknowns' folder, the gate's out-of-domain photos, and the far unknowns."""
    comp, unknowns, outliers, far = work / "cifar8", work / "unknown_test", work / "other_photos", work / "far"
    for split in ("train", "test"):
        for d in sorted((SHARED / "cifar10" / split).iterdir()):
            if d.name in unknown:
                if split == "test":
                    link_tree(d, unknowns / d.name)
            else:
                link_tree(d, comp / split / d.name)
    for name in ("hymenoptera", "clothing"):
        for d in sorted((SHARED / name / "train").iterdir()):
            link_tree(d, outliers / name / d.name)
    for name, splits in FAR.items():
        for split in splits:
            for d in sorted((SHARED / name / split).iterdir()):
                link_tree(d, far / f"{name}_{split}_{d.name}")
    return comp, unknowns, outliers, far


def harness(*args: str) -> str:
    out, _, _ = timed([sys.executable, "-m", "harness", *args], ROOT, stderr_too=True)
    return out


def evaluate(pred: pd.DataFrame, unknown: list[str], threshold: float, unknown_label: str) -> dict[str, float]:
    """`pred`'s ids are CLASS/FILE (relative to the folder given), so the class is the truth; a far
    unknown's folder is SET_SPLIT_CLASS."""
    from sklearn.metrics import roc_auc_score

    truth = pred["id"].str.split("/").str[0]
    near = truth.isin(unknown)
    far = truth.str.startswith(tuple(f"{name}_" for name in FAR))
    is_in = ~near & ~far
    accepted = pred["gate_score"] >= threshold
    inside = is_in & accepted
    correct = pred.loc[inside, "label"] == truth[inside]
    out = {"test_in_recall": float(accepted[is_in].mean()), "accuracy_accepted_in": float(correct.mean())}
    for kind, rows in (("", near), ("far_", far)):
        if rows.any():
            keep = is_in | rows
            out[f"{kind}auroc"] = float(roc_auc_score(is_in[keep], pred.loc[keep, "gate_score"]))
            out[f"{kind}fpr_unknown_accepted"] = float(accepted[rows].mean())
            out[f"{kind}unknown_labelled"] = float((pred.loc[rows, "label"] == unknown_label).mean())
    return out


def one_seed(seed: int, data: tuple[Path, Path, Path, Path], work: Path, budget: list[str], unknown: list[str],
             reuse: bool) -> dict:
    comp, unknowns, outliers, far = data
    main, gate_run = work / f"main-s{seed}", work / f"gate-s{seed}"
    recipe = str(ROOT / "recipes" / "cifar10.toml")
    common = [*budget, "--set", f"data.root='{comp}'", "--set", f"train.seed={seed}", "-q"]
    if not (reuse and (main / "metrics.json").is_file()):
        harness("run", recipe, "--out", str(main), *common)
    if not (reuse and (gate_run / "metrics.json").is_file()):
        harness("run", recipe, "--out", str(gate_run), *common, "--set", f"data.outliers='{outliers}'",
                "--set", "sampler.name='class_balanced'", "--set", "sampler.mode='sqrt'")
    metrics = json.loads((main / "metrics.json").read_text())
    row: dict = {"seed": seed, "main_holdout_accuracy": metrics["holdout_score"], "main_cv": metrics["cv_score"]}
    for gate in GATES:
        by = str(gate_run) if gate == "gate_run" else gate
        harness("gate", str(main), "--by", by, "--recall", "0.95")
        fitted = json.loads((main / "gate.json").read_text())
        out = work / f"pred-{gate}-s{seed}.csv"
        harness("predict", str(main), str(comp / "test"), str(unknowns), str(far), "--reject", "--out", str(out), "-q")
        pred = pd.read_csv(out)
        row[gate] = {"threshold": fitted["threshold"], "oof_recall": fitted["oof_recall"],
                     **evaluate(pred, unknown, fitted["threshold"], fitted["unknown_label"])}
        print(f"seed {seed} {gate}: {row[gate]}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unknown", nargs="+", default=["cat", "truck"], help="the classes held out of training")
    screen_options(ap, 0.2, ROOT / "runs" / "bench_gate", "keep finished runs in --work (re-gate and re-predict only)")
    args = ap.parse_args()
    budget = screen_budget(args)
    data = build_data(args.work, args.unknown)
    rows = [one_seed(s, data, args.work, budget, args.unknown, args.reuse) for s in args.seeds]
    summary: dict = {"unknown_classes": args.unknown, "budget": " ".join(budget), "seeds": args.seeds,
                     "recall_target": 0.95, "main_holdout_accuracy": [r["main_holdout_accuracy"] for r in rows]}
    for gate in GATES:
        for key in ("auroc", "far_auroc", "test_in_recall", "accuracy_accepted_in", "fpr_unknown_accepted",
                    "far_fpr_unknown_accepted"):
            xs = [r[gate][key] for r in rows]
            summary[f"{gate}_{key}"] = mean_sd(xs)
    summary["raw"] = rows
    record("gate", summary)


if __name__ == "__main__":
    main()
