"""Progress over trials: a rich bar on a terminal, one line per finished trial otherwise, with the
best value so far and how many trials were pruned. It reads the study, so it shows every
worker's trials, not only this process's."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from harness.specs import MetricSpec
from harness.tune.best import BASELINE_ATTR
from harness.tune.workers import Tally

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


class TrialProgress:
    def __init__(self, total: int, metric: MetricSpec, enabled: bool = True, stream: TextIO | None = None):
        self.total, self.spec, self.metric = total, metric, metric.name
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.seen: set[int] = set()
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> TrialProgress:
        if self.enabled and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.description}"), TimeElapsedColumn(), console=Console(file=self.stream))
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def start(self, trials: Sequence[FrozenTrial]) -> None:
        """Trials finished before this command are counted, not listed."""
        self.seen = {t.number for t in trials if t.state.is_finished()}
        self.update(trials)

    def _best(self, trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
        from optuna.trial import TrialState

        done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        if not done:
            return None
        return max(done, key=lambda t: self.spec.sign * float(t.values[0]))

    def line(self, t: FrozenTrial, trials: Sequence[FrozenTrial]) -> str:
        from optuna.trial import TrialState

        tally, best = Tally.of(trials), self._best(trials)
        seconds = t.duration.total_seconds() if t.duration is not None else 0.0
        what = f"{self.metric} {t.value:.4f}" if t.value is not None else ""
        if t.state == TrialState.PRUNED and "pruned_epoch" in t.user_attrs:
            what = f"at fold {t.user_attrs['pruned_fold']} epoch {t.user_attrs['pruned_epoch']} ({what})"
        if t.state == TrialState.FAIL:
            what = t.user_attrs.get("error", "its worker stopped")
        mark = " (the recipe's values)" if t.user_attrs.get(BASELINE_ATTR) else ""
        head = f"trial {t.number}{mark} {t.state.name.lower()} {what} in {seconds:.0f} s"
        tail = f"best {best.value:.4f} (trial {best.number})" if best is not None else "no complete trial yet"
        return f"{head} | {tail}, {tally.finished}/{self.total} finished, {tally.pruned} pruned"

    def update(self, trials: Sequence[FrozenTrial]) -> None:
        if not self.enabled:
            return
        for t in sorted(trials, key=lambda t: t.number):
            if t.number in self.seen or not t.state.is_finished() or t.user_attrs.get("surplus"):
                continue
            self.seen.add(t.number)
            text = self.line(t, trials)
            if self.bar is not None:
                self.bar.console.print(text, markup=False, highlight=False)
            else:
                print(text, file=self.stream, flush=True)
        if self.bar is not None:
            tally, best = Tally.of(trials), self._best(trials)
            top = f"best {self.metric} {best.value:.4f}" if best is not None else "no complete trial yet"
            self.bar.update(self.task, completed=min(tally.finished, self.total),
                            description=f"{top}, {tally.pruned} pruned, {tally.running} running")


__all__ = ["TrialProgress"]
