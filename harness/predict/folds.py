"""Predict new images with a finished run, from its folder alone: each chosen fold's model
(`harness.predict.fold_model.load_fold_model`) predicts every TTA view, the views are ensembled as
the run ensembled them (the recipe's `[ensemble]`, on softmax probabilities), then the folds the
same way, as the run made its test predictions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from harness.data.competition import Split
from harness.errors import HarnessError
from harness.hierarchy.levels import Levels, run_levels
from harness.outputs.labels import Tasks, add_label_columns, labels_of
from harness.outputs.manifest import RunManifest, read_manifest
from harness.outputs.tables import prob_frame
from harness.plugin_manager import Plugins
from harness.predict.pooling import pool_folds, pool_views

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

    from harness.config.recipe import Recipe
    from harness.data.stores import ImageStore
    from harness.predict.fold_model import FoldModel

CHUNK_BATCHES = 8  # eval batches per progress update: one loader per chunk, whose start-up this amortizes


@dataclass(frozen=True)
class Prediction:
    ids: tuple[str, ...]
    probs: np.ndarray  # (n, C), rows in `ids` order
    classes: tuple[str, ...]
    folds: tuple[int, ...]
    views: tuple[str, ...]
    logits: np.ndarray | None = None  # (folds, views, n, C): every fold's every view, for a gate's score
    tasks: Tasks = field(default_factory=dict)  # further task -> (classes, probs)
    levels: Levels = field(default_factory=dict)  # the run's hierarchy levels, if it has one

    def frame(self) -> pd.DataFrame:
        """id, the predicted label, one probability column per class; then each level of the
        run's hierarchy (column level_K) and, for each further task of a multi-task run, its label
        (column TASK) and its probabilities (TASK:CLASS): `add_label_columns`."""
        df = prob_frame(self.ids, self.probs, self.classes, "id")
        df.insert(1, "label", labels_of(self.probs, self.classes))
        add_label_columns(df, self.probs, self.tasks, self.levels)
        return df


def run_manifest(run_dir: Path) -> RunManifest:
    manifest = read_manifest(run_dir)  # a HarnessError without run.json
    if manifest.kind != "run":
        raise HarnessError(f"{run_dir} is an {manifest.kind} folder, which holds predictions but no models: "
                           "predict with each member run")
    return manifest


def chosen_folds(manifest: RunManifest, folds: Sequence[int] | None) -> tuple[int, ...]:
    trained = manifest.folds_trained
    if not folds:
        return trained
    unknown = [k for k in folds if k not in trained]
    if unknown:
        raise HarnessError(f"--folds: fold(s) {unknown} were not trained by this run (trained: {list(trained)})")
    return tuple(dict.fromkeys(folds))


def array_store(split: Split, recipe: Recipe, device: torch.device) -> ImageStore | None:
    """For a run trained from an image array (`data.array`), the images to predict decoded once
    into an array of their own (reused while they are unchanged), and read by whole batches as the
    run read its test set (kept on `device` as the run kept it, `data.array_on_device`): the same
    pixels, the same tensors, the run's speed."""
    if not recipe.data.array:
        return None
    from harness.data.array_cache import array_folder, build_array
    from harness.data.stores import ArrayStore
    from harness.predict.images import refuse_unreadable
    from harness.runtime.resident import keep_on_device

    images = build_array(split.paths, recipe.data.image_size, array_folder(recipe.data.cache_dir))
    refuse_unreadable(split, images.bad)
    return keep_on_device(ArrayStore(images), recipe.data.array_on_device, device)


def predict_chunked(fm: FoldModel, split: Split, acc: Accelerator, recipe: Recipe, store: ImageStore | None,
                    chunk: int, advance: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """{view: logits (n, C)} of `split` by one fold, `chunk` images at a time, telling `advance(n)`
    of each chunk done."""
    from harness.predict.fold_model import predict_split

    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(split), chunk):
        rows = np.arange(start, min(start + chunk, len(split)))
        logits, _ = predict_split(fm, split.subset(rows), acc, recipe, store)
        parts.append(logits)
        if advance:
            advance(len(rows))
    return {v.name: np.concatenate([p[v.name] for p in parts]) for v in fm.views}


def predict_run(run_dir: Path, split: Split, plugins: Plugins, folds: Sequence[int] | None = None,
                views: Sequence[str] | None = None, advance: Callable[[int], None] | None = None,
                keep_logits: bool = False) -> Prediction:
    """Probabilities of `split`'s images by the run in `run_dir`: `folds` (default: every trained
    fold) averaged as the run's ensembler does, each with its TTA `views` (default: the run's).
    `advance(n)` is told of every n images one fold has predicted."""
    from harness.config.recipe import load_recipe
    from harness.predict.fold_model import eval_batch_size, load_fold_model
    from harness.runtime.accelerator import make_accelerator  # the run's precision and loader settings, shared

    manifest = run_manifest(run_dir)
    use = chosen_folds(manifest, folds)
    recipe = load_recipe(run_dir / "recipe.toml", (), plugins)
    acc = make_accelerator(recipe)
    ensemble = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)
    chunk = eval_batch_size(recipe, acc.num_processes) * CHUNK_BATCHES
    from harness.multitask.build import run_tasks, split_tasks
    from harness.multitask.model import all_tasks

    store = array_store(split, recipe, acc.device)
    task_classes = run_tasks(manifest.extra)
    sizes = [len(classes) for classes in task_classes.values()]
    per_fold: list[np.ndarray] = []
    per_task: dict[str, list[np.ndarray]] = {t: [] for t in task_classes}
    stack: list[np.ndarray] = []
    view_names: tuple[str, ...] = ()
    for k in use:
        fm = load_fold_model(run_dir, k, plugins, acc.device, tuple(views) if views else None, recipe)
        view_names = tuple(v.name for v in fm.views)
        with all_tasks(fm.model):
            logits = predict_chunked(fm, split, acc, recipe, store, chunk, advance)
        logits, tasks = split_tasks(logits, len(manifest.classes), sizes)
        for name, views_of_task in zip(task_classes, tasks, strict=True):
            per_task[name].append(pool_views(ensemble, views_of_task))
        per_fold.append(pool_views(ensemble, logits))
        if keep_logits:  # a gate's score needs them; at 10^6 images and 1,000 classes they are 4 GB a fold and view
            stack.append(np.stack([np.asarray(x, dtype=np.float32) for x in logits.values()]))
    return Prediction(split.ids, pool_folds(ensemble, per_fold), manifest.classes, use, view_names,
                      np.stack(stack) if stack else None,
                      {t: (task_classes[t], pool_folds(ensemble, p)) for t, p in per_task.items()},
                      run_levels(manifest.extra))
