"""Prediction of any set of images by a finished fold, with its TTA views: the step that ends a
fold, and a public function that needs no training data (`load_fold_model` reads the run folder
alone). `harness predict`, the ensembler and a fold-aware teacher use it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.data.stores import ImageStore, dataset_for
from harness.errors import HarnessError
from harness.outputs.checkpoint import load_weights
from harness.plugin_manager import Plugins
from harness.predict.tta import predict
from harness.runtime import bf16_guard, precision
from harness.runtime.context import build_eval
from harness.runtime.inputs import ModelInput
from harness.runtime.loader import make_loader
from harness.specs import Ensembler, SampleTransform, TTAView


@dataclass
class FoldModel:
    """A fold's chosen weights with the transform and TTA views it predicts with."""

    fold: int
    model: nn.Module
    eval_tf: SampleTransform
    views: list[TTAView]
    inputs: ModelInput
    weights: str  # the candidate whose weights these are: "raw", "ema", ...
    ensemble: Ensembler | None = None  # how its run pools TTA views (the recipe's ensembler); None: the mean


def eval_batch_size(recipe: Recipe, processes: int) -> int:
    """`train.eval_batch_size` (default twice the training batch), rounded up to split evenly
    over the processes."""
    batch = recipe.train.eval_batch_size or 2 * recipe.train.batch_size
    return -(-batch // processes) * processes


def predict_split(fm: FoldModel, split: Split, acc: Accelerator, recipe: Recipe,
                  store: ImageStore | None = None) -> tuple[dict[str, np.ndarray], float]:
    """({view: logits (n, C) in split order}, images/s counting each view) for `split`'s images,
    read from `store` (None: decoded from the files)."""
    ds = dataset_for(store, split.paths, None, fm.eval_tf)
    loader = acc.prepare(make_loader(ds, eval_batch_size(recipe, acc.num_processes), recipe.data.num_workers,
                                     pin_memory=recipe.data.pin_memory))
    return predict(fm.model, loader, fm.views, acc, len(split), fm.inputs)


def load_fold_model(run_dir: Path, fold: int, plugins: Plugins, device: torch.device | str = "cpu",
                    views: tuple[str, ...] | None = None, recipe: Recipe | None = None) -> FoldModel:
    """Fold `fold` of the finished run in `run_dir`, on `device`, in eval mode: the recipe's model
    with the weights the fold chose, its eval transform and its TTA views (or `views`)."""
    import json

    from harness.config.recipe import load_recipe
    from harness.outputs.manifest import read_manifest

    manifest = read_manifest(run_dir)
    recipe = recipe or load_recipe(run_dir / "recipe.toml", (), plugins)
    result_file = run_dir / f"fold{fold}" / "result.json"
    if not result_file.is_file():
        trained = ", ".join(map(str, manifest.folds_trained)) or "none"
        raise HarnessError(f"{run_dir} has no finished fold {fold} (folds trained: {trained})")
    chosen = json.loads(result_file.read_text())["best_weights"]
    if views is not None:
        recipe = _with_views(recipe, views, plugins)
    # The architecture only: the fold's own weights replace whatever pretrained ones it would load.
    from harness.multitask.build import build_model, run_task_sizes

    model = build_model(plugins, replace(recipe.model, pretrained=False, weights=""), len(manifest.classes),
                        run_task_sizes(manifest.extra))
    load_weights(model, run_dir / f"fold{fold}" / f"best_{chosen}.safetensors")
    if torch.device(device).type == "cpu" and precision.cpu_bf16(recipe.train.precision):
        bf16_guard.guard(model)  # predicts exactly as the fold did in training
    if recipe.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(device).eval()
    eval_tf, view_list, inputs = build_eval(recipe, plugins, model, len(manifest.classes), on_device=str(device) != "cpu")
    ensemble = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)
    return FoldModel(fold, model, eval_tf, view_list, inputs, chosen, ensemble)


def _with_views(recipe: Recipe, views: tuple[str, ...], plugins: Plugins) -> Recipe:
    from harness.config.recipe import build_recipe, recipe_to_dict

    data: dict[str, Any] = recipe_to_dict(recipe)
    data["tta"] = {"views": list(views), **{k: v for k, v in data["tta"].items() if k in views}}
    return build_recipe(data, plugins)
