"""A finished run scored on the labelled splits of its photo set: val/ from the run's own
holdout.csv, any other labelled ImageFolder split (clothing test/) predicted from the run folder
by its fold models (`load_fold_model`), each fold's TTA views and then the folds pooled as the run's
ensembler does. Shared by accuracy.py, photo_ensemble.py and rescore.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The labelled splits of each photo set; the first is the one a run predicts itself (its holdout).
SPLITS = {"hymenoptera": ("val",), "clothing": ("val", "test")}


def scores(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    pred = probs.argmax(1)
    return {"accuracy": float((pred == y).mean()), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "f1_macro": float(f1_score(y, pred, average="macro"))}


def labelled_split(folder: Path, classes: list[str]) -> Any:
    from harness.data.competition import IMAGE_EXTENSIONS, Split

    paths = sorted(p for c in classes for p in (folder / c).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    labels = np.array([classes.index(p.parent.name) for p in paths], dtype=np.int64)
    return Split(tuple(str(p.relative_to(folder)) for p in paths), tuple(paths), labels)


def run_classes(run_dir: Path) -> tuple[list[str], list[int]]:
    """The run's classes and the folds it trained, from its manifest."""
    from harness.outputs.manifest import read_manifest

    manifest = read_manifest(run_dir)
    return list(manifest.classes), list(manifest.folds_trained)


def fold_ensemble(run_dir: Path, split: Any, folds: Sequence[int], sets: Sequence[str] = ()) -> np.ndarray:
    """Probabilities of the run's `folds` on `split` (each fold's TTA views ensembled, then the
    folds), as the run's recipe changed by `sets` would predict them."""
    from accelerate import Accelerator

    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins
    from harness.predict import load_fold_model, pool_run, predict_split

    plugins = load_plugins()
    recipe = load_recipe(run_dir / "recipe.toml", sets, plugins)
    ensemble = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)
    acc = Accelerator(cpu=True)
    logits = [predict_split(load_fold_model(run_dir, k, plugins, recipe=recipe), split, acc, recipe)[0] for k in folds]
    return pool_run(ensemble, logits)


def predict_labelled(run_dir: Path, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The run's fold ensemble on a labelled ImageFolder split that the run did not predict itself:
    (labels, probabilities)."""
    classes, folds = run_classes(run_dir)
    split = labelled_split(folder, classes)
    return split.labels, fold_ensemble(run_dir, split, folds)


def holdout_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of a run's or an ensemble's holdout.csv."""
    import pandas as pd

    frame = pd.read_csv(run_dir / "holdout.csv")
    classes = list(frame.columns[2:])
    return np.array([classes.index(str(c)) for c in frame["label"]]), frame[classes].to_numpy()


def split_probs(run_dir: Path, data: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, probabilities) of a run on every labelled split of its set: val/ from its
    holdout.csv, any other split predicted from the run folder."""
    return {"val": holdout_probs(run_dir), **{s: predict_labelled(run_dir, data / s) for s in SPLITS[data.name][1:]}}
