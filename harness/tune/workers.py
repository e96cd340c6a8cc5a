"""Workers: each runs trials until the study holds the requested number of finished (complete
or pruned) trials, however many workers share it, on one machine or several.

A worker starts a trial only while finished + running trials fall short of the target; once
they do not, it waits and watches for a dead worker's trial (`fail_stale`), whose retry it then
takes over. Two workers that start a trial at the same moment can overshoot: a trial preceded
by the target number of trials that are not failed is one too many, and is marked FAIL unrun
(`surplus`). So the study ends with exactly the target, and no trial left RUNNING.

`--n-workers N` starts N worker processes of the same command (`--worker K`), each with its own
log under `DIR/workers/`, and watches the study for the progress bar.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.errors import HarnessError
from harness.tune.objective import SurplusTrial, TrialFailed, TrialRunner
from harness.tune.storage import Store, fail_stale

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

MAX_FAILURES = 3  # trials in a row that the harness refused: the space or the data is wrong, stop


@dataclass(frozen=True)
class Tally:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned

    @classmethod
    def of(cls, trials: Sequence[FrozenTrial]) -> Tally:
        from optuna.trial import TrialState

        count = {s: 0 for s in TrialState}
        for t in trials:
            count[t.state] += 1
        return cls(count[TrialState.COMPLETE], count[TrialState.PRUNED], count[TrialState.FAIL],
                   count[TrialState.RUNNING], count[TrialState.WAITING])


class Watcher(Protocol):
    def update(self, trials: Sequence[FrozenTrial]) -> None: ...


def work(study: optuna.Study, runner: TrialRunner, store: Store, watcher: Watcher, poll: float) -> None:
    """Run trials in this process (and its ranks) until the study holds `runner.n_trials` finished."""
    import optuna

    while True:
        fail_stale(study, store)
        trials = study.get_trials(deepcopy=False)
        watcher.update(trials)
        tally = Tally.of(trials)
        if tally.finished >= runner.n_trials:
            return
        if tally.finished + tally.running >= runner.n_trials:
            runner.ranks.send("wait")  # the other ranks wait with us, not in a collective's timeout
            time.sleep(poll)
            continue
        try:
            study.optimize(runner.objective, n_trials=1, catch=(SurplusTrial, TrialFailed))
        except optuna.exceptions.UpdateFinishedTrialError:
            # another worker took this one for dead (its heartbeat came too late) and failed it
            print("harness: warning: a trial was marked failed by another worker while it ran; raise --heartbeat",
                  flush=True)
        if runner.failures_in_a_row >= MAX_FAILURES:
            raise HarnessError(f"{runner.failures_in_a_row} trials in a row failed; the last, {runner.last_error}")


def spawn(argv: Callable[[int], list[str]], n: int, logs: Path) -> list[subprocess.Popen]:
    """Start workers 1..n, each writing its log to `logs/worker-K.log`."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for k in range(1, n + 1):
        with open(logs / f"worker-{k}.log", "ab") as fh:
            procs.append(subprocess.Popen(argv(k), stdout=fh, stderr=subprocess.STDOUT))
    return procs


def watch(procs: list[subprocess.Popen], study: optuna.Study, watcher: Watcher, poll: float) -> list[int]:
    """Show the study's progress until every worker has exited; their exit codes."""
    try:
        while any(p.poll() is None for p in procs):
            watcher.update(study.get_trials(deepcopy=False))
            time.sleep(poll)
    except KeyboardInterrupt:  # each worker marks its trial failed on SIGINT, rather than leave it running
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    watcher.update(study.get_trials(deepcopy=False))
    return [int(p.returncode) for p in procs]


__all__ = ["work", "spawn", "watch", "Tally", "MAX_FAILURES"]
