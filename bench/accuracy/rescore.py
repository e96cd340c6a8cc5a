"""Re-score finished runs under other evaluation settings, without training: each run's saved fold
models predict their own OOF images (each fold's validation split, as the run's `folds.csv` drew
it) and labelled ImageFolder splits beside the run's `data.root`, with the recipe changed by
`--set` lists. It answers "would another centre crop, TTA view or test size have scored better?" on the OOF, which
never sees the holdout, next to the holdout itself.

    python bench/accuracy/rescore.py RUN_DIR... --config base= --config crop80="augment.crop_pct=0.8" \\
        --config tencrop="tta.views=['ten_crop']" --split val

Prints one line per run, setting and split, then the mean ± sd over the runs; appends a summary to
bench/results/rescore.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from harness.data.competition import Split

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # labelled.py beside this script, whoever runs it
from common import record  # noqa: E402
from labelled import fold_ensemble, labelled_split, run_classes  # noqa: E402


def fold_splits(run: Path) -> dict[int, Split]:
    """Each trained fold's validation split, as the run drew it: its competition read again, with
    the folds (and `data.fraction`) of the run's own `folds.csv`."""
    from dataclasses import replace

    from harness.config.recipe import load_recipe
    from harness.data.competition import load_competition
    from harness.data.folds import assign_folds

    recipe = load_recipe(run / "recipe.toml")
    recipe = replace(recipe, cv=replace(recipe.cv, folds_file=str(run / "folds.csv"), group_column=""))
    comp, folds, _ = assign_folds(load_competition(recipe.data), recipe)
    _, trained = run_classes(run)
    return {k: comp.train.subset(np.flatnonzero(folds == k)) for k in trained}


def accuracy_of(run: Path, oof: dict[int, Split], sets: list[str], splits: list[str]) -> dict[str, float]:
    """The run's accuracy on its OOF (`oof`: fold -> its validation split) and on each labelled
    split, under the recipe changed by `sets`."""
    from harness.config.recipe import load_recipe

    classes, folds = run_classes(run)
    hits: list[bool] = []
    for k, split in oof.items():
        hits += (fold_ensemble(run, split, [k], sets).argmax(1) == split.labels).tolist()
    out = {"oof": float(np.mean(hits))}
    root = Path(load_recipe(run / "recipe.toml").data.root)
    for name in splits:
        split = labelled_split(root / name, classes)
        out[name] = float((fold_ensemble(run, split, folds, sets).argmax(1) == split.labels).mean())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="finished ImageFolder run folders (their fold weights)")
    p.add_argument("--config", action="append", required=True,
                   help="NAME=SET;SET... (a --set list joined by ';'; 'base=' is the run as trained)")
    p.add_argument("--split", action="append", default=[], help="a labelled split folder beside train/ (repeatable)")
    args = p.parse_args()
    configs = dict(c.split("=", 1) for c in args.config)
    scores: dict[tuple[str, str], list[float]] = {}
    for run in args.runs:
        oof = fold_splits(run)
        for name, sets in configs.items():
            for split, value in accuracy_of(run, oof, [s for s in sets.split(";") if s], args.split).items():
                scores.setdefault((name, split), []).append(value)
                print(f"{run.name} {name} {split} {value:.4f}", flush=True)
    summary = {f"{name} {split}": {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
                                   "runs": v} for (name, split), v in scores.items()}
    for key, s in summary.items():
        print(f"{key:30s} {s['mean']:.4f} ± {s['sd']:.4f}")
    record("rescore", {"runs": [str(r) for r in args.runs], "configs": configs, "scores": summary})


if __name__ == "__main__":
    main()
