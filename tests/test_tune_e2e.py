"""`harness tune` end to end on the digits competition: pruning, resuming, best.toml; two workers
on one study with one killed mid-trial (a journal file, and a real PostgreSQL server); two gloo
processes under `accelerate launch`."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from .conftest import ROOT
from .test_e2e import harness, two_processes

pytestmark = pytest.mark.slow

RECIPE = """
base = "{root}/recipes/digits.toml"

[data]
root = "{digits}"
image_size = 16
extension = ".png"

[cv]
folds = 2

[scheduler]
warmup_epochs = 0.0

[callbacks.ema]
enabled = false
{extra}
[tune]
folds = [0]
epochs = {epochs}
fraction = 0.3
search = "random"
startup_trials = 1
warmup_epochs = 0
seed = 0
train.lr = {{choices = {lrs}}}
"""
GOOD_AND_TERRIBLE = "[0.004, 30.0, 50.0]"  # the recipe's 0.004 runs first (the baseline); the others diverge


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("digits") / "digits"
    res = subprocess.run([sys.executable, "-m", "harness", "data", "digits", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def write(tmp_path: Path, digits: Path, lrs: str = GOOD_AND_TERRIBLE, epochs: int = 2, extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(RECIPE.format(root=ROOT, digits=digits, lrs=lrs, epochs=epochs, extra=extra))
    return path


def test_tune_prunes_resumes_and_writes_a_runnable_best_recipe(tmp_path: Path, digits: Path) -> None:
    recipe = write(tmp_path, digits)
    first = harness("tune", str(recipe), "--out", "tune", "--trials", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "tune"
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials.number) == [0, 1] and set(trials.state) <= {"COMPLETE", "PRUNED"}
    assert trials.baseline[0] and trials["train.lr"][0] == 0.004 and trials.state[0] == "COMPLETE"
    metrics = json.loads((folder / "trials/0000/metrics.json").read_text())
    assert trials.cv_log_loss[0] == pytest.approx(metrics["cv_log_loss"])  # the tie-breaker, recorded per trial
    assert trials.cv_score_se[0] == pytest.approx(metrics["cv_score_se"]) and trials.cv_rows[0] == metrics["cv_rows"]
    assert 0 < metrics["cv_score_se"] < 0.5 and metrics["cv_rows"] > 0
    study = json.loads((folder / "summary.json").read_text())
    summary = study["best"]
    assert summary["se"] == pytest.approx(trials.cv_score_se[trials.number == summary["number"]].item())
    # the diverging rates are pruned, so the recipe's own values win, and the tuner says so
    assert summary["number"] == 0 and summary["baseline"] and "(trial 0, the recipe's own values)" in first.stdout
    header = (folder / "best.toml").read_text()
    assert "The recipe's own values scored best" in header
    # 2 epochs of 30% of the rows against best.toml's 12 of all: about 5% of its updates a fold
    assert [c for c in study["caveats"] if "about 5% of best.toml's optimizer updates" in c]
    assert "# Caveat: a trial makes about 5%" in header
    pruned = trials[trials.state == "PRUNED"]
    assert len(pruned) >= 1 and (pruned.pruned_epoch == 1).all() and (pruned["train.lr"] > 1).all()
    for name in ("best.toml", "optimization_history.png", "parallel_coordinate.png", "summary.json", "study.db"):
        assert (folder / name).is_file(), name
    assert (folder / "trials/0000/metrics.json").is_file()
    assert "epoch 1/2" in (folder / "trials/0000/train.log").read_text()  # the trial's log, not the console
    # a trial scores its OOF alone ([tune] predict = false): no test predictions, no report
    assert (folder / "trials/0000/oof.csv").is_file()
    for name in ("submission.csv", "report.html", "fold0/checkpoints"):
        assert not (folder / "trials/0000" / name).exists(), name

    again = harness("tune", str(recipe), "--out", "tune", "--trials", "3", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 finished trials" in again.stdout and "1 more to run" in again.stdout
    resumed = pd.read_csv(folder / "trials.csv")
    assert list(resumed.number) == [0, 1, 2]
    pd.testing.assert_frame_equal(resumed.iloc[:2][["number", "state", "value", "train.lr"]],
                                  trials[["number", "state", "value", "train.lr"]])

    best = tomllib.loads((folder / "best.toml").read_text())
    assert "tune" not in best and best["cv"]["only"] == [] and best["train"]["epochs"] == 12  # the full recipe
    assert best["train"]["checkpoints"]
    assert "optuna_pruner" not in best["callbacks"] and best["data"]["fraction"] == 1.0
    run = harness("run", str(folder / "best.toml"), "--out", "best", "--set", "train.epochs=1", "--set",
                  "data.fraction=0.3", "--set", "cv.only=[0]", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "best" / "run.json").read_text())["folds_trained"] == [0]
    assert (tmp_path / "best" / "submission.csv").is_file()  # the tuned recipe predicts as any run does


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, with a database `tune`."""
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not initdb:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: apt-get install postgresql")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver: pip install psycopg2-binary (the dev extra)")
    bindir = initdb[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="harness-pg-"))  # not under pytest's root-only tmp folders
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and pg_ctl refuse root: run them as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server as: apt-get install postgresql")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def pg(*args: str) -> None:
        res = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr + res.stdout

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N")
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "-l",
           str(folder / "server.log"), "-w", "start")
        try:
            pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tune")
            yield f"postgresql://postgres@127.0.0.1:{port}/tune"
        finally:
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, object]:
    """The --storage URL and what optuna.load_study reads it with."""
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        path = tmp_path / "study.journal"
        return f"journal:{path}", optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    from harness.tune.storage import with_driver

    url = request.getfixturevalue("postgres")
    return url, with_driver(url)


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_a_killed_worker_leaves_no_trial_running(tmp_path: Path, digits: Path, kind: str,
                                                 request: pytest.FixtureRequest) -> None:
    url, storage = _storage(kind, tmp_path, request)
    recipe = write(tmp_path, digits, lrs="[0.004, 0.002, 0.001]", epochs=1)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "harness", "tune", str(recipe), "--out", "tune", "--storage", url,
                               "--n-workers", "2", "--trials", "4", "--heartbeat", "1", "--pruner", "none"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.time() + 180
        while victim is None and time.time() < deadline and parent.poll() is None:
            time.sleep(0.3)
            if not (tmp_path / "tune" / "workers").is_dir():
                continue  # the study is made before the workers start: do not race its creation
            try:
                study = optuna.load_study(study_name="tiny", storage=storage)  # type: ignore[arg-type]
            except KeyError:
                continue  # not created yet
            for t in study.get_trials(states=(TrialState.RUNNING,)):
                started = t.datetime_start.timestamp() if t.datetime_start else time.time()
                if "worker" in t.user_attrs and time.time() - started > 1.0:
                    victim = t
                    break
        assert victim is not None, f"no trial was seen running: {parent.poll()} {parent.stderr.read() if parent.stderr else ''}"
        os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        out, err = parent.communicate(timeout=300)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 0, err
    assert "exited with code -9" in out
    trials = optuna.load_study(study_name="tiny", storage=storage).get_trials()  # type: ignore[arg-type]
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 4
    assert TrialState.RUNNING not in states
    assert trials[victim.number].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == victim.params
    assert len(pd.read_csv(tmp_path / "tune" / "trials.csv").query("state == 'COMPLETE'")) == 4


RECORD_PLUGIN = '''
"""Test plugin: every rank appends what it trains (the searched lr, fold, epochs) to a file."""
import json
from dataclasses import dataclass

from harness.hookspecs import hookimpl
from harness.specs import Callback, Component


@dataclass(frozen=True)
class RecordOptions:
    path: str = ""


class Record(Callback):
    def __init__(self, opts):
        self.opts = opts

    def _write(self, state, event):
        row = {"event": event, "rank": state.accelerator.process_index, "lr": state.recipe.train.lr,
               "fold": state.fold, "epoch": state.epoch}
        with open(self.opts.path, "a") as fh:
            fh.write(json.dumps(row) + "\\n")

    def on_fold_start(self, state):
        self._write(state, "start")

    def on_epoch_end(self, state):
        self._write(state, "epoch")


@hookimpl
def harness_callbacks():
    return [Component("record_params", lambda o, c: Record(o), RecordOptions)]
'''


def _segments(rows: list[dict], rank: int) -> list[tuple[float, list[int]]]:
    """Per trial run on `rank` (one fold each): its lr and the epochs it trained."""
    out: list[tuple[float, list[int]]] = []
    for row in rows:
        if row["rank"] != rank:
            continue
        if row["event"] == "start":
            out.append((row["lr"], []))
        else:
            out[-1][1].append(row["epoch"])
    return out


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_two_processes_agree_on_every_trial_and_stop_together(tmp_path: Path, digits: Path, precision: str) -> None:
    site = tmp_path / "site"
    (site / "record_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "record_plugin.py").write_text(RECORD_PLUGIN)
    (site / "record_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: record-plugin\nVersion: 0.1\n")
    (site / "record_plugin-0.1.dist-info" / "entry_points.txt").write_text("[harness]\nrecord_plugin = record_plugin\n")
    log = tmp_path / "seen.jsonl"
    recipe = write(tmp_path, digits, extra=f'\n[callbacks.record_params]\npath = "{log}"\n')
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    res = harness("tune", str(recipe), "--out", "tune", "--trials", "3", "--set", f"train.precision='{precision}'",
                  cwd=tmp_path, launcher=two_processes(),
                  timeout=400, env={"PYTHONPATH": path})
    assert res.returncode == 0, res.stderr
    trials = pd.read_csv(tmp_path / "tune" / "trials.csv")
    assert len(trials) == 3 and (trials.state == "PRUNED").sum() >= 1
    for n, state in zip(trials.number, trials.state, strict=True):  # one run of both processes, not one per process
        metrics = tmp_path / "tune" / "trials" / f"{n:04d}" / "metrics.json"
        if state == "PRUNED":  # a pruned trial is discarded: nothing predicted, nothing written
            assert not metrics.exists()
        else:
            assert json.loads((metrics.parent / "run.json").read_text())["processes"] == 2
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    rank0, rank1 = _segments(rows, 0), _segments(rows, 1)
    assert rank0 == rank1  # the same values, and the same epochs: a prune stopped both ranks together
    assert [lr for lr, _ in rank0] == list(trials["train.lr"])
    for (_, epochs), (_, t) in zip(rank0, trials.iterrows(), strict=True):
        assert epochs == ([0] if t.state == "PRUNED" else [0, 1])
