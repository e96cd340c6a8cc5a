"""Evaluation at the end of an epoch, and the choice of the best weights: every candidate (the
raw weights and each callback's `eval_models`, such as an EMA) is scored the same way on the
validation set with the first TTA view; each keeps its best weights on disk (or its last ones,
with train.keep = "last")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader

from harness.metrics import cross_entropy, score, softmax
from harness.outputs.checkpoint import save_weights
from harness.predict.tta import predict
from harness.runtime.inputs import ModelInput
from harness.specs import Callback, MetricSpec, TTAView
from harness.train.state import TrainState


def candidates(state: TrainState, callbacks: list[Callback]) -> dict[str, nn.Module]:
    """The raw weights first, then each callback's extra weights, by name."""
    found: dict[str, nn.Module] = {"raw": state.unwrapped}
    for cb in callbacks:
        found.update(cb.eval_models(state))
    return found


def evaluate(models: dict[str, nn.Module], loader: DataLoader, view: TTAView, acc: Accelerator, labels: np.ndarray,
             metric: MetricSpec, inputs: ModelInput) -> tuple[dict[str, float], dict[str, float]]:
    """({candidate: metric score}, {candidate: validation cross-entropy})."""
    scores, losses = {}, {}
    for name, module in models.items():
        logits, _ = predict(module, loader, [view], acc, len(labels), inputs)
        probs = softmax(next(iter(logits.values())))
        scores[name] = score(metric, labels, probs)
        losses[name] = cross_entropy(labels, probs)
    return scores, losses


def keep_best(state: TrainState, scores: dict[str, float], models: dict[str, nn.Module], metric: MetricSpec,
              weights_path: Callable[[str], Path], last: bool = False) -> None:
    """Record each candidate's new best and write its weights (main process). With `last`
    (train.keep = "last") every epoch replaces the one before, so what is kept is the final epoch."""
    for name, value in scores.items():
        if last or metric.better(value, state.best.get(name)):
            state.best[name], state.best_epoch[name] = value, state.epoch
            if state.accelerator.is_main_process:
                save_weights(models[name], weights_path(name))
    state.accelerator.wait_for_everyone()


def choose_best(best: dict[str, float], metric: MetricSpec) -> str:
    """The candidate with the best score over all epochs; ties go to the raw weights."""
    chosen = "raw"
    for name in best:
        if metric.better(best[name], best[chosen]):
            chosen = name
    return chosen
