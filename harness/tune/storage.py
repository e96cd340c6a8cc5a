"""Where a study lives, and how a dead worker's trial is found and run again.

- default: an embedded SQLite file, `DIR/study.db` (one worker at a time);
- `--storage postgresql://...` or `mysql+pymysql://...`: Optuna's RDBStorage through SQLAlchemy;
- `--storage journal:PATH`: Optuna's JournalStorage on an append-only file, which several
  processes (and machines, on a shared filesystem) write safely through a lock file.

A worker that dies mid-trial must not leave the trial RUNNING forever. On an RDB storage Optuna's
own heartbeat does it: a thread records a heartbeat every `heartbeat` seconds while a trial runs,
and `optuna.storages.fail_stale_trials` marks a trial whose heartbeat is older than the grace
period as FAIL and hands it to `RetryHeartbeatStaleTrialCallback` (the new name of
`RetryFailedTrialCallback`), which queues its parameters again. Optuna 5.0's JournalStorage has
no heartbeat (it does not implement `BaseHeartbeat`), so for it `Heartbeat` records the time as
a trial user attribute and `fail_stale` does the same FAIL-and-retry with the public API.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import optuna

JOURNAL = "journal:"
HEARTBEAT_ATTR = "heartbeat"
GRACE_BEATS = 3  # a trial is dead after this many missed heartbeats
MAX_RETRY = 1  # a dead worker's trial runs again once; twice dead, it stays failed


def default_url(folder: Path) -> str:
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def check_workers(url: str, workers: int) -> None:
    if workers > 1 and is_sqlite(url):
        raise HarnessError(f"--n-workers {workers} needs a storage that several processes write at once, and SQLite "
                           f"({url}) takes one writer at a time: use --storage journal:DIR/study.journal (a file, also "
                           "on a shared filesystem) or --storage postgresql://USER:PASSWORD@HOST/DB")


def _stale_retry() -> dict[str, Any]:
    import optuna

    storages = optuna.storages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9 renamed RetryFailedTrialCallback
            return {"heartbeat_stale_trial_callback": storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)}
        return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)}


@dataclass(frozen=True)
class Store:
    url: str
    storage: optuna.storages.BaseStorage
    heartbeat: int  # seconds between two heartbeats of a running trial
    native: bool  # Optuna runs the heartbeat itself (RDB storages)

    @property
    def grace(self) -> int:
        return GRACE_BEATS * self.heartbeat


def with_driver(url: str) -> str:
    """`postgresql://` names no driver, and SQLAlchemy 2.1 then takes psycopg 3; where only psycopg2
    is installed (the dev extra's psycopg2-binary), say so in the URL."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def open_store(url: str, heartbeat: int) -> Store:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if heartbeat < 1:
        raise HarnessError(f"--heartbeat must be at least 1 second, got {heartbeat}")
    if url.startswith(JOURNAL):
        path = Path(url.removeprefix(JOURNAL)).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return Store(url, optuna.storages.JournalStorage(JournalFileBackend(str(path))), heartbeat, native=False)
    # SQLite: wait for a lock rather than fail at once; a server: check a pooled connection before use
    engine = {"connect_args": {"timeout": 60}} if is_sqlite(url) else {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = optuna.storages.RDBStorage(with_driver(url), engine_kwargs=engine, heartbeat_interval=heartbeat,
                                                 grace_period=GRACE_BEATS * heartbeat, **_stale_retry())
        except ImportError as exc:
            cause = exc.__cause__ or exc
            raise HarnessError(f"--storage {url}: its database driver is missing ({cause}); PostgreSQL: "
                               "pip install psycopg2-binary, MySQL: pip install pymysql") from exc
        except Exception as exc:  # SQLAlchemy's errors: a bad URL, a server that does not answer
            text = " ".join(str(exc).split())[:300]
            raise HarnessError(f"--storage {url}: cannot open it: {type(exc).__name__}: {text}") from exc
    return Store(url, storage, heartbeat, native=True)


class Heartbeat:
    """While a trial runs, record the time in its user attribute `heartbeat` every `interval`
    seconds (for storages without a heartbeat of their own)."""

    def __init__(self, trial: optuna.Trial, interval: int):
        self.trial, self.interval = trial, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="harness-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.trial.set_user_attr(HEARTBEAT_ATTR, time.time())
            except Exception:  # the trial was finished meanwhile (by another worker that took it for dead)
                return

    def __enter__(self) -> Heartbeat:
        self.trial.set_user_attr(HEARTBEAT_ATTR, time.time())
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


def fail_stale(study: optuna.Study, store: Store) -> list[int]:
    """Mark trials whose worker stopped beating as FAIL and queue each again (at most MAX_RETRY
    times); return their numbers. Several workers may race: only the one whose FAIL lands queues it."""
    import optuna
    from optuna.trial import TrialState

    if store.native:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return sorted(t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if t.number in before)
    retry = next(iter(_stale_retry().values()))
    failed = []
    now = time.time()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = t.datetime_start.timestamp() if t.datetime_start else now
        if now - max(float(t.user_attrs.get(HEARTBEAT_ATTR, 0.0)), started) <= store.grace:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dead = study.tell(t.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker marked it first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry(study, dead)
        failed.append(t.number)
    return failed


__all__ = ["Store", "open_store", "default_url", "is_sqlite", "check_workers", "Heartbeat", "fail_stale", "JOURNAL"]
