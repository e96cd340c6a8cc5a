"""Re-score finished runs under other evaluation settings, without training: each run's saved fold
models predict their own OOF images (the fold's validation split, from `folds.csv`) and labelled
ImageFolder splits beside the run's `data.root`, with the recipe changed by `--set` lists. It
answers "would another centre crop, TTA view or test size have scored better?" on the OOF, which
never sees the holdout, next to the holdout itself.

    python bench/rescore.py RUN_DIR... --config base= --config crop80="augment.crop_pct=0.8" \\
        --config tencrop="tta.views=['ten_crop']" --split val

Prints one line per run, setting and split, then the mean ± sd over the runs; appends a summary to
bench/results/rescore.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from common import record

from harness.data.competition import Split


def fold_split(run: Path, data_root: Path, fold: int, classes: list[str]) -> Split:
    """Fold `fold`'s validation images of an ImageFolder run, labelled by their class folder."""
    import pandas as pd

    table = pd.read_csv(run / "folds.csv", dtype=str)
    ids = table.iloc[:, 0][table["fold"] == str(fold)].tolist()
    labels = np.array([classes.index(Path(i).parent.name) for i in ids], dtype=np.int64)
    return Split(tuple(ids), tuple(data_root / i for i in ids), labels)


def accuracy_of(run: Path, sets: list[str], splits: list[str]) -> dict[str, float]:
    """The run's accuracy on its OOF and on each labelled split, under the recipe changed by `sets`."""
    from accuracy import fold_ensemble, labelled_split, run_classes

    from harness.config.recipe import load_recipe

    classes, folds = run_classes(run)
    root = Path(load_recipe(run / "recipe.toml").data.root)
    hits: list[bool] = []
    for k in folds:
        split = fold_split(run, root, k, classes)
        hits += (fold_ensemble(run, split, [k], sets).argmax(1) == split.labels).tolist()
    out = {"oof": float(np.mean(hits))}
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
        for name, sets in configs.items():
            for split, value in accuracy_of(run, [s for s in sets.split(";") if s], args.split).items():
                scores.setdefault((name, split), []).append(value)
                print(f"{run.name} {name} {split} {value:.4f}", flush=True)
    summary = {f"{name} {split}": {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
                                   "runs": v} for (name, split), v in scores.items()}
    for key, s in summary.items():
        print(f"{key:30s} {s['mean']:.4f} ± {s['sd']:.4f}")
    record("rescore", {"runs": [str(r) for r in args.runs], "configs": configs, "scores": summary})


if __name__ == "__main__":
    main()
