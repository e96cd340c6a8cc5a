"""One `test_hook_<name>` per hook (tests/test_docs.py checks that every hook has one), as datasette
does: a recording plugin implements every hook, a recipe selects all of its components, one small
run trains two folds with them in process, and each test checks what its hook's component saw and
did, in the formats docs/hooks.md promises."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from harness.config.recipe import build_recipe
from harness.hookspecs import hookimpl
from harness.plugin_manager import load_plugins
from harness.specs import Batch, Callback, Component, MetricSpec, ModelSpec, NoOptions, StatelessSchedule, TTAView
from harness.testing import make_kaggle_competition

SEEN: dict[str, list[Any]] = defaultdict(list)


class TinyNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN["model_input"].append((x.dtype, tuple(x.shape[1:])))
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


@dataclass(frozen=True)
class ScaleOptions:
    scale: float = 1.0  # multiply the images by this


class Scale:
    def __init__(self, scale: float):
        self.scale = scale

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        SEEN["batch_transform"].append((batch.images.dtype, tuple(batch.images.shape[1:]), batch.target.dtype, epoch,
                                        "teacher_probs" in batch.extras))
        return batch.with_(images=batch.images * self.scale)


class InOrder:
    def __init__(self, n: int):
        self.n = n

    def set_epoch(self, epoch: int) -> None:
        SEEN["sampler_epochs"].append(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))


class Flat(StatelessSchedule):
    def factor(self, update: int) -> float:
        SEEN["schedule_updates"].append(update)
        return 1.0


class Events(Callback):
    def on_fold_start(self, state: Any) -> None:
        SEEN["events"].append(("on_fold_start", state.fold))

    def on_epoch_start(self, state: Any) -> None:
        SEEN["events"].append(("on_epoch_start", state.epoch))

    def on_batch(self, state: Any, batch: Batch) -> Batch:
        SEEN["events"].append(("on_batch", state.epoch))
        batch.extras["teacher_probs"] = torch.full((len(batch), 3), 1 / 3)
        return batch

    def after_optimizer_step(self, state: Any) -> None:
        SEEN["events"].append(("after_optimizer_step", state.update))

    def on_epoch_end(self, state: Any) -> None:
        SEEN["events"].append(("on_epoch_end", state.epoch))
        SEEN["metrics_at_epoch_end"].append(dict(state.metrics))


def loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    SEEN["loss"].append((tuple(logits.shape), batch.target.dtype, len(batch.extras["teacher_probs"])))
    return nn.functional.cross_entropy(logits.float(), batch.target)


def mean(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    SEEN["ensemble_inputs"].append((len(probs), probs[0].shape))
    return np.mean(np.stack(probs), axis=0)


def metric(y: np.ndarray, probs: np.ndarray) -> float:
    SEEN["metric"].append((y.dtype.kind, probs.shape))
    return float((probs.argmax(1) == y).mean())


def sample_transform(opts: NoOptions, ctx: Any, train: bool) -> Any:
    steps = v2.Compose([v2.Resize((ctx.image_size, ctx.image_size), antialias=True), v2.ToDtype(torch.float32, scale=True)])

    def tf(image: torch.Tensor) -> torch.Tensor:
        SEEN["sample_transform"].append((train, image.dtype, image.shape[0]))
        return steps(image)

    return tf


class Recorder:
    """One plugin that implements every hook."""

    @hookimpl
    def harness_models(self) -> list[ModelSpec]:
        def build(cfg: Any, num_classes: int) -> nn.Module:
            SEEN["model_built"].append((cfg.source, num_classes))
            return TinyNet(num_classes)

        return [ModelSpec("rec_model", build)]

    @hookimpl
    def harness_sample_transforms(self) -> list[Component]:
        return [Component("rec_augment", sample_transform, NoOptions)]

    @hookimpl
    def harness_batch_transforms(self) -> list[Component]:
        return [Component("rec_scale", lambda o, c: Scale(o.scale), ScaleOptions)]

    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("rec_loss", lambda o, c: loss, NoOptions)]

    @hookimpl
    def harness_samplers(self) -> list[Component]:
        return [Component("rec_sampler", lambda o, c: InOrder(len(c.labels)), NoOptions)]

    @hookimpl
    def harness_schedulers(self) -> list[Component]:
        return [Component("rec_schedule", lambda o, c: Flat(), NoOptions)]

    @hookimpl
    def harness_tta_views(self) -> list[Component]:
        def build(o: NoOptions, c: Any) -> list[TTAView]:
            def view(x: torch.Tensor) -> torch.Tensor:
                SEEN["tta_view"].append(tuple(x.shape[1:]))
                return x.flip(-2)

            return [TTAView("rec_view", view)]

        return [Component("rec_view", build, NoOptions)]

    @hookimpl
    def harness_ensemblers(self) -> list[Component]:
        return [Component("rec_mean", lambda o, c: mean, NoOptions)]

    @hookimpl
    def harness_callbacks(self) -> list[Component]:
        return [Component("rec_events", lambda o, c: Events(), NoOptions)]

    @hookimpl
    def harness_metrics(self) -> list[MetricSpec]:
        return [MetricSpec("rec_metric", metric, higher_is_better=True, needs_probs=False)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from accelerate.state import AcceleratorState

    from harness.train.run import run_experiment

    SEEN.clear()
    tmp = tmp_path_factory.mktemp("hooks")
    root = make_kaggle_competition(tmp / "comp", per_class=8, test=6, size=20)
    plugins = load_plugins(extra=(Recorder(),))
    recipe = build_recipe({
        "data": {"root": str(root), "image_size": 16, "num_workers": 0},
        "model": {"source": "rec_model", "channels_last": False},
        "train": {"epochs": 2, "batch_size": 4, "lr": 0.01, "seed": 0, "log_every": 1, "checkpoint_every": 0},
        "cv": {"folds": 2, "metric": "rec_metric"},
        "augment": {"name": "rec_augment"}, "loss": {"name": "rec_loss"}, "sampler": {"name": "rec_sampler"},
        "scheduler": {"name": "rec_schedule"}, "ensemble": {"name": "rec_mean"},
        "tta": {"views": ["identity", "rec_view"]},
        "batch_transforms": {"rec_scale": {"scale": 1.0}}, "callbacks": {"rec_events": {}},
    }, plugins)
    try:
        run_experiment(recipe, tmp / "run", plugins)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    return tmp / "run"


def test_hook_harness_models(run: Path) -> None:
    assert SEEN["model_built"][:2] == [("rec_model", 3), ("rec_model", 3)]  # one per fold (then prediction)
    assert {s for s in SEEN["model_input"]} == {(torch.float32, (3, 16, 16))}


def test_hook_harness_sample_transforms(run: Path) -> None:
    seen = set(SEEN["sample_transform"])
    assert (True, torch.uint8, 3) in seen and (False, torch.uint8, 3) in seen  # training and evaluation


def test_hook_harness_batch_transforms(run: Path) -> None:
    dtypes, shapes, targets, epochs, extras = zip(*SEEN["batch_transform"], strict=True)
    assert set(dtypes) == {torch.float32} and set(shapes) == {(3, 16, 16)} and set(targets) == {torch.int64}
    assert set(epochs) == {0, 1} and all(extras)  # after on_batch, which added the extra


def test_hook_harness_losses(run: Path) -> None:
    assert SEEN["loss"] and all(shape[1] == 3 and dtype == torch.int64 and n == shape[0]
                                for shape, dtype, n in SEEN["loss"])


def test_hook_harness_samplers(run: Path) -> None:
    assert SEEN["sampler_epochs"].count(0) >= 2 and SEEN["sampler_epochs"].count(1) >= 2  # both epochs, both folds


def test_hook_harness_schedulers(run: Path) -> None:
    updates = SEEN["schedule_updates"]
    assert updates and min(updates) == 0 and set(range(max(updates) + 1)) <= set(updates)  # every update, from 0


def test_hook_harness_tta_views(run: Path) -> None:
    assert SEEN["tta_view"] and set(SEEN["tta_view"]) == {(3, 16, 16)}
    with np.load(run / "fold0" / "logits.npz") as z:
        assert {"oof/identity", "oof/rec_view", "test/rec_view"} <= set(z.files)


def test_hook_harness_ensemblers(run: Path) -> None:
    """The recipe's ensembler pools each fold's two TTA views (OOF rows, test rows) and then the
    two folds' test predictions; the run's OOF is what it returned."""
    import pandas as pd

    from harness.metrics import softmax

    valid = {n for n, shape in SEEN["ensemble_inputs"] if shape[0] == 12}  # 24 training images, 2 folds
    test = [n for n, shape in SEEN["ensemble_inputs"] if shape[0] == 6]
    assert valid == {2} and test.count(2) >= 3  # views of fold 0, of fold 1, then the 2 folds
    with np.load(run / "fold0" / "logits.npz") as z:
        ids, pooled = z["oof_ids"], np.mean([softmax(z["oof/identity"]), softmax(z["oof/rec_view"])], axis=0)
    oof = pd.read_csv(run / "oof.csv", dtype={"id": str}).set_index("id").loc[ids]
    np.testing.assert_allclose(oof[["class_0", "class_1", "class_2"]].to_numpy(), pooled, rtol=0, atol=1e-12)


def test_hook_harness_callbacks(run: Path) -> None:
    events = [e for e, _ in SEEN["events"]]
    fold0 = events[: events.index("on_fold_start", 1)]
    assert fold0[:3] == ["on_fold_start", "on_epoch_start", "on_batch"]
    assert fold0.count("on_epoch_end") == 2 and fold0[-1] == "on_epoch_end"
    first_step = fold0.index("after_optimizer_step")
    assert fold0[first_step - 1] == "on_batch"
    assert all("val_score" in m and "val_loss" in m for m in SEEN["metrics_at_epoch_end"])


def test_hook_harness_metrics(run: Path) -> None:
    import json

    import pandas as pd

    metrics = json.loads((run / "metrics.json").read_text())
    oof = pd.read_csv(run / "oof.csv")
    labels = oof["label"].map({"class_0": 0, "class_1": 1, "class_2": 2}).to_numpy()
    accuracy = float((oof[["class_0", "class_1", "class_2"]].to_numpy().argmax(1) == labels).mean())
    assert json.loads((run / "run.json").read_text())["metric"] == "rec_metric"
    assert metrics["cv_score"] == accuracy  # the plugin's score of the OOF
    assert SEEN["metric"] and all(kind == "i" and shape[1] == 3 for kind, shape in SEEN["metric"])  # int labels, (N, C)
