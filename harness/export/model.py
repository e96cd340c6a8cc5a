"""The module that is exported: one fold's model, or the fold ensemble, behind the run's input
normalization, so the exported graph takes plain 0-255 RGB images (uint8 or float, NCHW, the run's
image size) and returns softmax probabilities pooled over folds and TTA views as the run pooled
them: their mean, or their geometric mean when the recipe's ensembler is geometric. A multi-task
run's graph returns every task's, pooled alike: the run's own task first, then one output per
further task. What it expects of its input is written down in `Preprocessing`, which becomes the
file's metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.console import warn
from harness.errors import HarnessError
from harness.export.formats import output_names
from harness.plugin_manager import Plugins
from harness.predict.pooling import log_pool, pool_kind
from harness.specs import PoolKind, SampleTransform, TTAView


class Normalized(nn.Module):
    """(x / 255 - mean) / std in float32, then softmax(model(view(x))) for every model and view,
    pooled: their mean, or their geometric mean renormalized (`pool = "geometric"`, as the
    geometric ensembler computes it). Views see the normalized batch, as in `harness.predict.tta`.
    With `tasks` (a multi-task run's further tasks' class counts), the models give every task's
    logits side by side and the output is a tuple: the own task's probabilities, then each task's."""

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, models: Sequence[nn.Module], views: Sequence[TTAView], mean: Sequence[float],
                 std: Sequence[float], pool: PoolKind = "mean", tasks: Sequence[int] = ()):
        super().__init__()
        self.models = nn.ModuleList(models)
        self.views = list(views)
        self.pool = pool
        self.tasks = tuple(tasks)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        # x * a + b with a = 1 / (255 std) and b = -mean / std, as `ModelInput` computes it
        self.register_buffer("scale", 1.0 / (255.0 * std_t))
        self.register_buffer("shift", -mean_t / std_t)

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        x = images.float() * self.scale + self.shift
        if not self.tasks:
            return log_pool([m(v.apply(x)) for m in self.models for v in self.views], self.pool).exp()
        from harness.multitask.model import all_tasks

        logits = []
        for m in self.models:
            with all_tasks(m):
                logits += [m(v.apply(x)) for v in self.views]
        parts = [z.split([z.shape[1] - sum(self.tasks), *self.tasks], dim=1) for z in logits]  # per view: per task
        return tuple(log_pool(list(task), self.pool).exp() for task in zip(*parts, strict=True))


@dataclass(frozen=True)
class Preprocessing:
    """What a caller does before the graph, and what the graph does itself."""

    classes: tuple[str, ...]
    image_size: int
    steps: tuple[str, ...]  # decoding and resizing, in order, before the graph
    mean: tuple[float, ...]
    std: tuple[float, ...]
    folds: tuple[int, ...]
    weights: tuple[str, ...]  # per fold: "raw", "ema", ...
    views: tuple[str, ...]
    pool: PoolKind
    run: str
    metric: str
    cv_score: float | None
    tasks: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a multi-task run's further tasks and their classes
    gate: str = ""  # the run's gate.json, when one is attached: the graph does not apply it
    levels: str = ""  # the run's hierarchy levels (run.json's extra["levels"]) as JSON, when it has a hierarchy

    def metadata(self, input_dtype: str) -> dict[str, str]:
        """The ONNX metadata_props / TorchScript extra file: string keys and values."""
        s = self.image_size
        return {
            "producer": "harness export",
            "classes": json.dumps(list(self.classes)),
            "image_size": str(s),
            "input": f"images: {input_dtype} (N, 3, {s}, {s}), values 0-255",
            "layout": "NCHW",
            "channel_order": "RGB",
            "input_dtype": input_dtype,
            "preprocess": json.dumps(list(self.steps)),
            "mean": json.dumps(list(self.mean)),
            "std": json.dumps(list(self.std)),
            "normalization": "inside the graph: (x / 255 - mean) / std, per channel",
            "output": f"probs: float32 (N, {len(self.classes)}), softmax probabilities pooled by their "
                      f"{'arithmetic' if self.pool == 'mean' else 'geometric'} mean over "
                      f"{len(self.folds)} fold(s) x {len(self.views)} TTA view(s)"
                      + ("; then one such output per further task, probs_TASK (see tasks)" if self.tasks else ""),
            "pool": self.pool,
            "folds": json.dumps(list(self.folds)),
            "weights": json.dumps(list(self.weights)),
            "tta_views": json.dumps(list(self.views)),
            "run": self.run,
            "metric": self.metric,
            "cv_score": "" if self.cv_score is None else repr(self.cv_score),
            "outputs": json.dumps(output_names([name for name, _ in self.tasks])),
            "tasks": json.dumps({name: list(classes) for name, classes in self.tasks}),
            **({"gate": self.gate, "gate_applied": "no: the outputs are the main model's; turn away an image "
                "whose gate score is below the threshold, as harness predict --reject does"} if self.gate else {}),
            **({"levels": self.levels, "levels_rule": "an image's label at level_K is nodes[of_leaf[top class]]: the "
                "node above its top leaf, so that a leaf implies its parents (a level task's own output aside)"}
               if self.levels else {}),
        }


def describe(transform: Any) -> list[str]:
    """The resizing steps of an eval transform, in words; normalization is left out (the graph
    does it). A step this does not know is given by its repr."""
    from torchvision.transforms import v2

    steps = list(getattr(transform, "transforms", [transform]))
    out = []
    for t in steps:
        if isinstance(t, v2.Resize):
            size = "x".join(map(str, t.size)) if len(t.size) == 2 else f"shorter side {t.size[0]}"
            mode = getattr(t.interpolation, "value", t.interpolation)  # an InterpolationMode, or its name
            out.append(f"resize to {size} ({mode}, antialias={t.antialias})")
        elif isinstance(t, v2.CenterCrop):
            out.append(f"centre crop {tuple(t.size)}")
        elif isinstance(t, (v2.ToDtype, v2.Normalize)):
            continue
        else:
            out.append(repr(t))
    return out


def uint8_transform(recipe: Any, plugins: Plugins, model: nn.Module, num_classes: int) -> SampleTransform:
    """The run's eval transform without normalization: decoded uint8 CHW in, uint8 CHW out, as a
    GPU run's loader workers produce it."""
    from harness.runtime.context import make_context

    ctx = make_context(recipe, model, np.zeros(0, dtype=np.int64), num_classes, recipe.train.seed, 1, on_device=True)
    tf = plugins.sample_transform(recipe.augment, replace(ctx, normalize=False), False)
    probe = tf(torch.zeros(3, recipe.data.image_size + 13, recipe.data.image_size + 7, dtype=torch.uint8))
    if probe.dtype != torch.uint8:
        raise HarnessError(f"augment {recipe.augment.name!r} normalizes inside its eval transform, so the export "
                           "cannot put normalization in the graph")
    return tf


def load_images(paths: Sequence[Path], transform: SampleTransform) -> np.ndarray:
    """uint8 (N, 3, S, S): each file decoded as in training (`load_array`) and resized by the
    run's eval transform."""
    from harness.data.images import load_array

    return np.stack([transform(torch.from_numpy(load_array(p)).permute(2, 0, 1)).numpy() for p in paths])


@dataclass
class Exportable:
    module: Normalized
    prep: Preprocessing
    transform: SampleTransform  # decoded uint8 image -> uint8 (3, S, S)
    recipe: Any


def pooling(recipe: Any, plugins: Plugins) -> PoolKind:
    """How the run pooled its folds' and views' probabilities, as the graph can (`pool_kind`): an
    ensembler the graph cannot compute (rank, fitted weights) becomes the mean, with a warning."""
    name = recipe.ensemble.name
    kind = pool_kind(plugins.ensembler(name, recipe.ensemble.options))
    if kind is None:
        warn(f"the run pools folds and TTA views with ensemble.name = {name!r}; the exported graph takes their mean")
    return kind or "mean"


def build_exportable(run_dir: Path, plugins: Plugins, folds: Sequence[int], views: Sequence[str]) -> Exportable:
    """The folds' chosen weights on the CPU, in float32 and eval mode, with the TTA `views`."""
    from harness.config.recipe import load_recipe
    from harness.predict.fold_model import load_fold_model
    from harness.predict.folds import chosen_folds, run_manifest

    manifest = run_manifest(run_dir)
    use = chosen_folds(manifest, folds)
    recipe = load_recipe(run_dir / "recipe.toml", (), plugins)
    from harness.multitask.build import run_tasks

    fms = [load_fold_model(run_dir, k, plugins, "cpu", tuple(views), recipe) for k in use]
    models = [fm.model.to(memory_format=torch.contiguous_format).float().eval() for fm in fms]
    tasks = tuple(run_tasks(manifest.extra).items())
    module = Normalized(models, fms[0].views, fms[0].inputs.mean, fms[0].inputs.std, pooling(recipe, plugins),
                        [len(classes) for _, classes in tasks]).eval()
    transform = uint8_transform(recipe, plugins, models[0], len(manifest.classes))
    size = int(transform(torch.zeros(3, 40, 50, dtype=torch.uint8)).shape[-1])
    metrics_file = run_dir / "metrics.json"
    cv = json.loads(metrics_file.read_text()).get("cv_score") if metrics_file.is_file() else None
    prep = Preprocessing(
        classes=manifest.classes, image_size=size,
        steps=("decode to RGB (EXIF orientation applied, alpha composited on white)", *describe(transform)),
        mean=tuple(fms[0].inputs.mean), std=tuple(fms[0].inputs.std), folds=use,
        weights=tuple(fm.weights for fm in fms), views=tuple(v.name for v in fms[0].views), pool=module.pool,
        run=str(run_dir.resolve()), metric=manifest.metric, cv_score=cv, tasks=tasks, gate=attached_gate(run_dir),
        levels=json.dumps(manifest.extra["levels"]) if manifest.extra.get("levels") else "",
    )
    return Exportable(module, prep, transform, recipe)


def attached_gate(run_dir: Path) -> str:
    """The run's gate as JSON ("" without one), with a warning: the exported graph is the main
    model alone, so whoever serves it applies the gate from the file's metadata."""
    from harness.gate.attach import GATE_FILE, read_gate

    if not (run_dir / GATE_FILE).is_file():
        return ""
    gate = read_gate(run_dir)
    warn(f"{run_dir} has a gate ({gate.by if not gate.run else 'the gate run ' + gate.run}, threshold "
         f"{gate.threshold:.4g}): the exported graph does not apply it; its settings are in the metadata's 'gate'")
    return json.dumps(asdict(gate))
