"""The trainer state a callback sees: every field documented, and the one resumable object saved
and restored in one place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from harness.testing import train_state
from harness.train import state as state_module
from harness.train.resume import FoldResume
from harness.train.state import RESUMED, TrainState

INTERNAL = {"pending_flags", "step_losses", "nonfinite_steps", "epoch_nonfinite", "rates", "stop_run",
            "stop_discard", "stop_reason"}  # the trainer's own bookkeeping; `request_stop` is the public way to stop


def test_every_field_a_plugin_reads_is_in_the_contract_with_its_documentation() -> None:
    """Every TrainState field but the loop's own is a documented FoldState property, and the other
    way round: a plugin reads the contract, the trainer offers all of it."""
    from harness.specs import FoldState

    contract = {n: p for n, p in vars(FoldState).items() if isinstance(p, property)}
    public = {f.name for f in dataclasses.fields(TrainState)} - INTERNAL
    public |= {n for n, v in vars(TrainState).items() if isinstance(v, property)}  # fold_dir
    assert public == set(contract), public ^ set(contract)
    assert all((p.fget.__doc__ or "").strip() for p in contract.values())
    assert "FoldState" in (state_module.__doc__ or "")


def test_a_callback_finds_the_run_and_fold_folders(tmp_path: Path) -> None:
    state = train_state(run_dir=tmp_path / "run", fold=2)
    assert state.run_dir == tmp_path / "run" and state.fold_dir == tmp_path / "run" / "fold2"
    assert state.fold_dir.is_dir()  # made before on_fold_start, as a run makes it
    assert train_state().run_dir != train_state().run_dir  # each test state writes in a folder of its own


def test_request_stop_keeps_the_first_reason_and_widens_to_the_run() -> None:
    state = train_state()
    state.request_stop("patience")
    assert state.stop and not state.stop_run and state.stop_reason == "patience"
    state.request_stop("pruned", run=True)
    assert state.stop_run and state.stop_reason == "patience"


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def state_dict(self) -> dict[str, int]:
        return {"n": self.n}

    def load_state_dict(self, saved: dict[str, int]) -> None:
        self.n = saved["n"]


def test_fold_resume_round_trips_everything_in_one_place() -> None:
    state, counter = train_state(), Counter()
    state.update, state.best, state.best_epoch = 17, {"raw": 0.8, "ema": 0.85}, {"raw": 1, "ema": 2}
    state.history, state.rates = [{"epoch": 0, "val_score": 0.5}], [12.5, 13.0]
    state.step_losses = [torch.tensor(0.7), 0.6]
    counter.n = 5
    saved = FoldResume(state, {"counter": counter}).state_dict(epoch=3, step=4)
    fresh, fresh_counter = train_state(), Counter()
    assert FoldResume(fresh, {"counter": fresh_counter}).load_state_dict(saved) == (3, 4)
    for key in RESUMED:
        assert getattr(fresh, key) == getattr(state, key), key
    assert fresh.step_losses == [torch.tensor(0.7).item(), 0.6] and fresh_counter.n == 5


def test_a_fold_a_callback_stopped_resumes_stopped() -> None:
    """Killed while predicting after a callback ended the run: the resumed fold must still end it,
    or the run goes on to train the folds the callback had ended."""
    state = train_state()
    state.request_stop("patience ran out", run=True)
    saved = FoldResume(state, {}).state_dict(epoch=3, step=0)
    fresh = train_state()
    FoldResume(fresh, {}).load_state_dict(saved)
    assert (fresh.stop, fresh.stop_run, fresh.stop_reason) == (True, True, "patience ran out")


def test_a_checkpoint_from_before_the_stop_fields_still_loads() -> None:
    saved = FoldResume(train_state(update=4), {}).state_dict(epoch=1, step=0)
    for key in ("stop", "stop_run", "stop_reason"):
        del saved["trainer"][key]
    fresh = train_state()
    FoldResume(fresh, {}).load_state_dict(saved)
    assert fresh.update == 4 and not fresh.stop

