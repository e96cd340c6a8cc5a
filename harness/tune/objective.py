"""One trial, trained in this process by `harness.train.run.run_experiment`, on every rank of a
launch.

The main process alone talks to Optuna: it asks for the trial's values and sends them to every
other rank (`broadcast_object_list`), so all ranks build the same trial recipe and train it
together; the main process's `optuna_pruner` callback decides a prune, and the core's run-wide
stop carries it to every rank at the end of the epoch. The other ranks wait in `follow` for the
next message: a trial, "wait" (the main process polls the study), the refit, or "stop", so
every rank runs the same trials and none waits on a collective that another skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.tune.best import LOSS_ATTR, ROWS_ATTR, SE_ATTR
from harness.tune.pruner import OptunaPruning, Pruned
from harness.tune.recipes import TuneRecipe
from harness.tune.storage import Heartbeat, Store

if TYPE_CHECKING:
    import optuna

Message = tuple[Any, ...]  # ("trial", number, values, folder) | ("refit", values, folder) | ("wait",) | ("stop",)


class SurplusTrial(Exception):
    """The study already holds as many trials as it needs: this one is not run."""


class TrialFailed(Exception):
    """The harness refused or stopped a trial's run (a `HarnessError`, such as non-finite losses)."""


@dataclass(frozen=True)
class Ranks:
    """The processes of this launch (one without `accelerate launch`)."""

    count: int
    index: int

    @property
    def main(self) -> bool:
        return self.index == 0

    @classmethod
    def current(cls) -> Ranks:
        from accelerate import PartialState

        from harness.runtime.device import on_gpu

        state = PartialState(cpu=not on_gpu())
        # Trials run with run_experiment(keep_process_group=True): a destroyed gloo/NCCL group
        # cannot be made again reliably in the same processes; `close` destroys it at the end.
        return cls(state.num_processes, state.process_index)

    def send(self, *message: Any) -> None:
        if self.count > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list([message])

    def receive(self) -> Message:
        from accelerate.utils import broadcast_object_list

        box: list[Any] = [None]
        broadcast_object_list(box)
        return tuple(box[0])

    def close(self) -> None:
        if self.count > 1:
            from accelerate import PartialState

            # Both ranks past their last broadcast before either tears gloo down: a rank that
            # destroyed the group while its peer's transfer was in flight left that peer's gloo
            # thread joinable at exit, and it aborted ("terminate called without an active exception").
            PartialState().wait_for_everyone()
            PartialState().destroy_process_group()


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """A trial's training log goes to its folder; the console keeps the tuning progress."""
    with open(path, "a", encoding="utf-8") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        yield


def surplus(study: optuna.Study, number: int, n_trials: int) -> bool:
    """Whether `n_trials` trials that are not failed come before trial `number` (trial numbers are
    given out in order, so concurrent workers agree on which trial is one too many)."""
    from optuna.trial import TrialState

    ahead = sum(1 for t in study.get_trials(deepcopy=False) if t.number < number and t.state != TrialState.FAIL)
    return ahead >= n_trials


@dataclass
class TrialRunner:
    tune: TuneRecipe
    folder: Path
    stride: int  # Optuna steps per fold (see `harness.tune.pruner`)
    ranks: Ranks
    n_trials: int
    store: Store | None = None  # the main process's; None on the others
    failures_in_a_row: int = 0
    last_error: str = ""

    def objective(self, trial: optuna.Trial) -> float:
        """Optuna's objective, on the main process: the trial's CV score."""
        import optuna

        if surplus(trial.study, trial.number, self.n_trials):
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"the study already holds {self.n_trials} trials")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        values = {p.key: p.suggest(trial) for p in self.tune.space}
        beat = contextlib.nullcontext() if self.store is None or self.store.native else Heartbeat(trial, self.store.heartbeat)
        out = self.folder / "trials" / f"{trial.number:04d}"
        n = 1
        while (out / "recipe.toml").exists():  # another study in this folder (--study-name) numbers from 0 too
            n += 1
            out = out.with_name(f"{trial.number:04d}-{n}")
        trial.set_user_attr("folder", str(out))
        with beat:
            self.ranks.send("trial", trial.number, values, str(out))
            metrics, pruned = self.run(trial.number, values, out, trial)
        if pruned.step is not None:
            trial.set_user_attr("pruned_step", pruned.step)
            trial.set_user_attr("pruned_fold", pruned.fold)
            trial.set_user_attr("pruned_epoch", pruned.epoch)
            raise optuna.TrialPruned(f"fold {pruned.fold} epoch {pruned.epoch}")
        for attr in (LOSS_ATTR, SE_ATTR, ROWS_ATTR):  # metrics.json's keys, recorded under the same names: the log
            if metrics.get(attr) is not None:    # loss breaks ties between trials, the SE and rows tell ties from gains
                trial.set_user_attr(attr, float(metrics[attr]))
        return float(metrics["cv_score"])

    def run(self, number: int, values: Mapping[str, Any], out: Path, trial: optuna.Trial | None) -> tuple[dict[str, Any], Pruned]:
        """Train trial `number` into `out` on this rank; `trial` is the Optuna trial on the main process."""
        from harness.plugin_manager import load_plugins
        from harness.train.run import run_experiment

        plugin = OptunaPruning(trial)
        plugins = load_plugins(extra=(plugin,))
        recipe = self.tune.trial_recipe(values, self.stride, plugins)
        log = contextlib.nullcontext()
        if self.ranks.main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "trial.json").write_text(json.dumps({"number": number, "params": dict(values)}, indent=2) + "\n")
            log = output_to(out / "train.log")  # type: ignore[assignment]
        try:
            with log:
                summary = run_experiment(recipe, out, plugins, keep_process_group=True,
                                         predict=self.tune.settings.predict)
        except HarnessError as exc:
            self.failures_in_a_row += 1
            self.last_error = f"trial {number}: {exc}"
            if trial is not None:
                trial.set_user_attr("error", str(exc))
            raise TrialFailed(str(exc)) from exc
        self.failures_in_a_row = 0
        return summary.metrics, plugin.pruned

    def follow(self, refit: Callable[..., Any]) -> None:
        """Every rank but the main one: run what the main process sends until it says stop."""
        while True:
            message = self.ranks.receive()
            if message[0] == "stop":
                return
            if message[0] == "trial":
                with contextlib.suppress(TrialFailed):
                    self.run(message[1], message[2], Path(message[3]), None)
            elif message[0] == "refit":
                refit(*message[1:])


__all__ = ["TrialRunner", "Ranks", "SurplusTrial", "TrialFailed", "surplus", "output_to"]
