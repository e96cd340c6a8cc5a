"""The fold's lifecycle: what a callback receives (`FoldState`) and the events it reacts to
(`Callback`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.specs.data import Batch, Loss

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch
    from torch import nn


class FoldState(Protocol):
    """What every callback event receives: the fold's trainer state, read-only to a plugin (the
    trainer's `harness.train.state.TrainState` is one; `harness.testing.train_state()` builds a
    real one for tests).

    To stop, call `state.request_stop(reason)` (this fold), `request_stop(reason, run=True)` (the
    whole run: no further folds) or `request_stop(reason, discard=True)` (the whole run, at once,
    with no predictions and no outputs: a pruned tuning trial). The main process's decision is
    broadcast at the end of the epoch, so every rank stops together, after the same epoch."""

    @property
    def recipe(self) -> Any:
        """The frozen, validated `harness.config.schema.Recipe` of the run."""

    @property
    def accelerator(self) -> Any:
        """The `accelerate.Accelerator`: `.device`, `.num_processes`, `.is_main_process`, `.autocast`."""

    @property
    def model(self) -> nn.Module:
        """The model as prepared for training (DDP-wrapped under several processes); call it."""

    @property
    def unwrapped(self) -> nn.Module:
        """The bare module under `model`: read or copy its weights here (EMA does)."""

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Each param group has `part` ("backbone" or "head") and `base_lr`."""

    @property
    def fold(self) -> int:
        """This fold's index, 0-based."""

    @property
    def run_dir(self) -> Path:
        """The run folder (`harness run --out`), shared by every process and fold: write a file of the
        whole run here, on the main process only (`if state.accelerator.is_main_process:`)."""

    @property
    def fold_dir(self) -> Path:
        """This fold's folder, `run_dir/fold{fold}`, made before `on_fold_start`: write the fold's
        files here (`state.fold_dir / "lr.csv"`), on the main process only. A resumed fold finds what
        the killed one wrote; rewrite a file whole from the callback's state rather than append."""

    @property
    def inputs(self) -> Any:
        """Images -> model input (memory format, normalization on the device); `.mean`, `.std`."""

    @property
    def train_ids(self) -> tuple[str, ...]:
        """The competition ids of this fold's training split: `train_ids[batch.index[i]]`;
        pseudo-labelled images (a `PseudoLabeller` callback's) follow the labelled ids."""

    @property
    def fold_of(self) -> Mapping[str, int]:
        """The run's fold assignment: labelled id -> fold, as in `folds.csv`."""

    @property
    def loss(self) -> Loss | None:
        """The fold's `Loss` as built (a teacher attaches its model to a distillation loss)."""

    @property
    def epoch(self) -> int:
        """The current epoch, 0-based."""

    @property
    def update(self) -> int:
        """Optimizer updates so far in this fold (skipped non-finite updates count)."""

    @property
    def metrics(self) -> dict[str, Any]:
        """This epoch's row, filled before `on_epoch_end`: `val_score` (raw weights),
        `val_score_NAME` per candidate, `val_loss`, `train_loss`, `lr`, timing."""

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every earlier epoch's `metrics` row."""

    @property
    def best(self) -> dict[str, float]:
        """Per candidate name ("raw", "ema", ...): the best validation score so far."""

    @property
    def best_epoch(self) -> dict[str, int]:
        """Per candidate name: the epoch of its best score."""

    @property
    def stop(self) -> bool:
        """Whether this fold ends after this epoch."""

    def request_stop(self, reason: str, run: bool = False, discard: bool = False) -> None: ...


class Callback:
    """Lifecycle events a trick can react to. Subclass and override what you need; every event
    gets the fold's state, a `FoldState`.

    The real order of events in a fold (each process calls every callback):

        on_fold_start
        for each epoch:
            on_epoch_start
            for each batch:  on_batch (may add batch.extras) -> batch transforms -> forward, loss,
                             backward -> on an update: lr_factor per group, optimizer step,
                             after_optimizer_step
            evaluation: the raw weights and every `eval_models` candidate score the validation
                        set; state.metrics is filled (val_score, val_score_NAME, ...)
            on_epoch_end     (request a stop here: state.request_stop(...))
            checkpoint (state_dict of every callback)
        the best candidate's weights predict OOF, test and holdout

    `eval_models` maps a name (a lowercase word: it becomes `best_NAME.safetensors`, the log key
    `val_score_NAME` and the `best_weights` value) to a module with the model's architecture; it
    must return the same module objects every time it is called in a fold, since the best
    weights are loaded back into them for prediction. `state_dict`/`load_state_dict` make a trick
    resumable: the core saves every callback's state_dict at each checkpoint and restores it.
    """

    def on_fold_start(self, state: FoldState) -> None: ...

    def on_epoch_start(self, state: FoldState) -> None: ...

    def on_batch(self, state: FoldState, batch: Batch) -> Batch:
        """Before the batch transforms: add per-sample extras (looked up by `batch.index`)."""
        return batch

    def after_optimizer_step(self, state: FoldState) -> None: ...

    def on_epoch_end(self, state: FoldState) -> None: ...

    def eval_models(self, state: FoldState) -> dict[str, nn.Module]:
        return {}

    def lr_factor(self, state: FoldState, group: str) -> float:
        """Multiplier on the learning rate of parameter group `group` ("backbone" or "head")."""
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
