"""A NaN or inf loss, or a finite loss with a non-finite gradient: the step is skipped and counted
on every rank, the log names it, and too many in a row stop the run with a clear error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from harness.config.recipe import load_recipe
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.plugin_manager import load_plugins
from harness.specs import Batch, Component
from harness.train.run import run_experiment

from .conftest import TINY


@dataclass(frozen=True)
class NanOptions:
    bad_calls: tuple[int, ...] = ()
    always: bool = False
    gradient_only: bool = False  # the loss stays finite; its gradient is infinite


class InfiniteGradient(torch.autograd.Function):
    """The identity forward; an infinite gradient backward, as a bf16 overflow or a wrong kernel gives."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("inf")


class NanAt:
    def __init__(self, opts: NanOptions):
        self.opts, self.calls = opts, 0

    def __call__(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        target = batch.target
        self.calls += 1
        bad = self.opts.always or self.calls in self.opts.bad_calls
        if bad and self.opts.gradient_only:
            return F.cross_entropy(InfiniteGradient.apply(logits.float()), target)
        loss = F.cross_entropy(logits.float(), target)
        return loss * float("nan") if bad else loss


class NanPlugin:
    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("nan_at", lambda o, c: NanAt(o), NanOptions)]


def _recipe(tmp_path: Path, root: Path, loss: str, sets: tuple[str, ...] | list[str] = ()):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.toml"
    path.write_text(TINY.format(root=root) + loss)
    plugins = load_plugins(extra=(NanPlugin(),))
    return load_recipe(path, ["cv.only=[0]", "train.batch_size=4", *sets], plugins), plugins


def _labels(tmp_path: Path) -> np.ndarray:
    return pd.read_csv(tmp_path / "run" / "oof.csv")["label"].map({"class_0": 0, "class_1": 1, "class_2": 2}).to_numpy()


# Both precisions on every CPU: under bf16 the tiny model's last stage reaches 1-pixel maps, where
# an unguarded CPU kernel adds non-finite gradients of its own to the ones these tests inject.
PRECISIONS = pytest.mark.parametrize("precision", ["fp32", "bf16"])


@pytest.mark.slow
@PRECISIONS
def test_nan_steps_are_skipped_and_logged(tmp_path: Path, kaggle_comp: Path, capsys: pytest.CaptureFixture[str],
                                          precision: str) -> None:
    recipe, plugins = _recipe(tmp_path, kaggle_comp, "\n[loss]\nname = 'nan_at'\nbad_calls = [2, 3]\n",
                              [f"train.precision='{precision}'"])
    summary = run_experiment(recipe, tmp_path / "run", plugins)
    err = capsys.readouterr().err
    assert "non-finite loss at fold 0 epoch 1 step 1" in err and "step 2" in err
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(r["nonfinite_steps"] for r in rows) == 2
    oof = pd.read_csv(tmp_path / "run" / "oof.csv")[["class_0", "class_1", "class_2"]].to_numpy()
    assert np.isfinite(oof).all() and np.allclose(oof.sum(axis=1), 1.0)  # the skipped steps left a sound model
    assert summary.metrics["cv_score"] == pytest.approx(float((oof.argmax(1) == _labels(tmp_path)).mean()), abs=0)
    weights = torch.load(next((tmp_path / "run" / "fold0" / "checkpoints").glob("step-*")) / "optimizer.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for s in weights["state"].values() for v in s.values() if v.is_floating_point())


def test_too_many_in_a_row_stop_the_run(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe, plugins = _recipe(tmp_path, kaggle_comp, "\n[loss]\nname = 'nan_at'\nalways = true\n")
    with pytest.raises(HarnessError, match=r"stopping: 5 non-finite losses or gradients in a row.*epoch 2 step 1"):
        run_experiment(recipe, tmp_path / "run", plugins)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])  # skipped on the device, and on the host
@PRECISIONS
def test_a_finite_loss_with_a_non_finite_gradient_is_skipped(tmp_path: Path, kaggle_comp: Path, optimizer: str,
                                                             capsys: pytest.CaptureFixture[str], precision: str) -> None:
    recipe, plugins = _recipe(tmp_path, kaggle_comp, "\n[loss]\nname = 'nan_at'\nbad_calls = [2]\ngradient_only = true\n",
                              [f"train.optimizer='{optimizer}'", "train.epochs=2", f"train.precision='{precision}'"])
    run_experiment(recipe, tmp_path / "run", plugins)
    assert "non-finite gradient at fold 0 epoch 1 step 1" in capsys.readouterr().err
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(r["nonfinite_steps"] for r in rows) == 1
    saved = next((tmp_path / "run" / "fold0" / "checkpoints").glob("step-*"))
    state = torch.load(saved / "optimizer.pt", weights_only=True)["state"]
    assert all(torch.isfinite(v).all() for s in state.values() for v in s.values() if v.is_floating_point())
