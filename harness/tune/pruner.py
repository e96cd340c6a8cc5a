"""Pruning a trial from inside the training loop, and Optuna's pruners by name.

`OptunaPruning` is a plugin object registered at run time (`load_plugins(extra=(plugin,))`); its
`optuna_pruner` callback, enabled in a trial's recipe, reports each epoch's validation score
(`state.metrics["val_score"]`) to the Optuna trial at step `fold position x stride + epoch` and,
when the pruner says so, asks for a stop that discards the whole run (no predictions, no outputs:
its processes are free at the end of that epoch), except after the trial's last epoch, where a stop
would save nothing and lose its score (the live study of 2026-12-07 pruned one there). Only the main process holds the trial and
decides; the core broadcasts its decision at the end of the epoch, so every rank stops after the
same epoch.

Pruners, as Optuna implements them: `worst` (the default: a trial stops once its best score so far
is below every complete trial's at the same step, Optuna's percentile rule at 100), the median rule
(Golovin et al. 2017, Google Vizier), successive halving (Jamieson and Talwalkar 2016; Li et al.
2020, ASHA) and Hyperband (Li et al. 2018).

Why `worst` and not the median: a score in the middle of a one-cycle or cosine schedule says little
about the end. In `recipes/cifar10_tune.toml`'s study of 10-epoch trials (bench/README.md, 2026-12-07)
the ranks of the complete trials changed until the last epoch: replayed against one another, the
median rule stops all five of them by epoch 2, among them the best trial and the recipe's own
values, while `worst` keeps the three best and stops the two that ended last. It still stops a
diverging trial after its first epoch. It prunes less, so a study costs more: name `median` (or
`halving`, `hyperband`) where the early epochs are known to rank trials as the last one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component, FoldState
from harness.tune.recipes import PRUNER_CALLBACK, trial_folds

if TYPE_CHECKING:
    import optuna



@dataclass(frozen=True)
class PrunerOptions:
    stride: int = 0  # Optuna steps per fold: the most epochs a trial can train a fold

    def validate(self, where: str) -> None:
        require(self.stride >= 0, f"{where}.stride", "must be >= 0")


@dataclass
class Pruned:
    """Where the pruner stopped a trial (None: it ran to the end)."""

    step: int | None = None
    fold: int | None = None
    epoch: int | None = None  # 1-based, within the fold, as the log counts


class ReportAndPrune(Callback):
    def __init__(self, trial: optuna.Trial | None, stride: int, pruned: Pruned):
        self.trial, self.stride, self.pruned = trial, stride, pruned

    def on_epoch_end(self, state: FoldState) -> None:
        if self.trial is None or not state.accelerator.is_main_process:
            return
        folds = trial_folds(state.recipe)
        stride = self.stride or state.recipe.train.epochs
        step = folds.index(state.fold) * stride + state.epoch
        self.trial.report(float(state.metrics["val_score"]), step)
        last = state.fold == folds[-1] and state.epoch + 1 >= state.recipe.train.epochs
        if not last and self.trial.should_prune():  # a stop after the last epoch saves nothing and loses the score
            self.pruned.step, self.pruned.fold, self.pruned.epoch = step, state.fold, state.epoch + 1
            state.request_stop(f"pruned by optuna at step {step}", discard=True)


class OptunaPruning:
    """The run-time plugin for one trial: `trial` is None on every process but the main one."""

    def __init__(self, trial: optuna.Trial | None = None):
        self.trial = trial
        self.pruned = Pruned()

    def _build(self, opts: PrunerOptions, ctx: BuildContext) -> ReportAndPrune:
        return ReportAndPrune(self.trial, opts.stride, self.pruned)

    @hookimpl
    def harness_callbacks(self) -> list[Component]:
        return [Component(PRUNER_CALLBACK, self._build, PrunerOptions,
                          doc="report val_score to an Optuna trial each epoch; stop the run when it is pruned")]


def make_pruner(name: str, startup_trials: int, warmup_epochs: int, max_steps: int) -> optuna.pruners.BasePruner:
    """An Optuna pruner by name; `max_steps` is a whole trial's steps (Hyperband's max resource)."""
    import optuna

    if name == "worst":  # maximize: the 0th percentile of the complete trials; minimize: the 100th
        return optuna.pruners.PercentilePruner(100.0, n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, max_steps))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}")


__all__ = ["OptunaPruning", "ReportAndPrune", "Pruned", "PrunerOptions", "make_pruner"]
