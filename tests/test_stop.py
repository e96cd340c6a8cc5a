"""A stop that ends the whole run, decided on the main process and followed by every rank; the
typed batch carries the sample indices through to the callbacks and the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import TINY
from .test_e2e import harness, two_processes

PLUGIN = '''
"""Test plugin: `stop_on_main` asks for a run-wide stop on the main process only, after the
first epoch; `record_batches` writes the sample ids of every batch it sees."""
import json
from dataclasses import dataclass
from pathlib import Path

from harness.hookspecs import hookimpl
from harness.specs import Callback, Component


@dataclass(frozen=True)
class StopOptions:
    at_epoch: int = 0
    discard: bool = False


class StopOnMain(Callback):
    def __init__(self, opts):
        self.opts = opts

    def on_epoch_end(self, state):
        if state.accelerator.is_main_process and state.epoch == self.opts.at_epoch:
            state.request_stop("the main process says so", run=True, discard=self.opts.discard)


@dataclass(frozen=True)
class RecordOptions:
    path: str = ""


class RecordBatches(Callback):
    def __init__(self, opts):
        self.opts = opts

    def on_batch(self, state, batch):
        ids = [state.train_ids[i] for i in batch.index.tolist()]
        with open(self.opts.path, "a") as fh:
            fh.write(json.dumps({"fold": state.fold, "rank": state.accelerator.process_index, "ids": ids,
                                 "labels": batch.target.tolist()}) + "\\n")
        batch.extras["seen"] = batch.index.clone()
        return batch


@hookimpl
def harness_callbacks():
    return [Component("stop_on_main", lambda o, c: StopOnMain(o), StopOptions),
            Component("record_batches", lambda o, c: RecordBatches(o), RecordOptions)]
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """The test plugin as an installed distribution on PYTHONPATH (an entry point in a
    dist-info folder), so that every process of a launch loads it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "stop_plugin.py").write_text(PLUGIN)
    info = site / "stop_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stop-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[harness]\nstop_plugin = stop_plugin\n")
    return site


def _env_run(tmp_path: Path, comp: Path, site: Path, extra: str, launcher: list[str] | None = None):  # type: ignore[no-untyped-def]
    import os

    recipe = tmp_path / "r.toml"
    recipe.write_text(TINY.format(root=comp) + extra)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return harness("run", str(recipe), "--out", "run", "--set", "train.epochs=3", cwd=tmp_path, launcher=launcher,
                   timeout=240, env={"PYTHONPATH": path})


def _check_stopped(run: Path) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == {"0": 1}
    assert metrics["stopped"] == {"0": "the main process says so"}
    assert not (run / "fold1").exists()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["folds_trained"] == [0]


@pytest.mark.slow
def test_run_wide_stop_one_process(tmp_path: Path, kaggle_comp: Path, plugin_path: Path) -> None:
    res = _env_run(tmp_path, kaggle_comp, plugin_path, "\n[callbacks.stop_on_main]\n")
    assert res.returncode == 0, res.stderr
    assert "run stopped after fold 1: the main process says so" in res.stderr
    _check_stopped(tmp_path / "run")


@pytest.mark.slow
def test_main_process_stop_ends_every_rank(tmp_path: Path, kaggle_comp: Path, plugin_path: Path) -> None:
    """Only rank 0 asks to stop. Without the broadcast rank 1 would start epoch 2 and wait forever
    in DDP's first all-reduce (the timeout of `harness` makes that a failure here)."""
    res = _env_run(tmp_path, kaggle_comp, plugin_path, "\n[callbacks.stop_on_main]\n", launcher=two_processes())
    assert res.returncode == 0, res.stderr
    _check_stopped(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["processes"] == 2


@pytest.mark.slow
def test_a_discarded_run_ends_every_rank_without_predicting(tmp_path: Path, kaggle_comp: Path, plugin_path: Path) -> None:
    """A pruned trial's stop: both ranks end after epoch 1 and nothing is predicted or written."""
    res = _env_run(tmp_path, kaggle_comp, plugin_path, "\n[callbacks.stop_on_main]\ndiscard = true\n",
                   launcher=two_processes())
    assert res.returncode == 0, res.stderr
    assert "run discarded in fold 1, nothing predicted or written: the main process says so" in res.stderr
    run = tmp_path / "run"
    assert [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()] == [0]
    assert not any((run / name).exists() for name in ("metrics.json", "run.json", "oof.csv", "submission.csv", "fold1"))
    assert not list(run.glob("fold0/*.npz")) and not (run / "fold0" / "result.json").exists()


@pytest.mark.slow
def test_batches_carry_their_sample_ids(tmp_path: Path, kaggle_comp: Path, plugin_path: Path) -> None:
    log = tmp_path / "batches.jsonl"
    res = _env_run(tmp_path, kaggle_comp, plugin_path, f"\n[callbacks.record_batches]\npath = '{log}'\n")
    assert res.returncode == 0, res.stderr
    folds = {row["id"]: row["fold"] for row in _csv(tmp_path / "run" / "folds.csv")}
    labels = {row["id"]: row["label"] for row in _csv(kaggle_comp / "train.csv")}
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 2 * 3  # 15 training images a fold, global batch 8 (last one dropped), 3 epochs
    for row in rows:
        assert len(row["ids"]) == 8 == len(set(row["ids"]))
        assert all(folds[i] != row["fold"] for i in row["ids"])  # only this fold's training ids
        assert [f"class_{t}" for t in row["labels"]] == [labels[i] for i in row["ids"]]  # index and target agree


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path) as fh:
        return list(csv.DictReader(fh))

