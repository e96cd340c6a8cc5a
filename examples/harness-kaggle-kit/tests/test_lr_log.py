"""Contract tests: the checks harness runs on every callback (`harness.testing.CallbackContract`),
and properties of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

import harness_kaggle_kit.lr_log as lr_log
import pandas as pd

from harness.testing import CallbackContract, train_state


class TestLrLog(CallbackContract):
    name = "lr_log"
    options: ClassVar[dict[str, Any]] = {}  # recipe keys, as a recipe would set them
    plugins = (lr_log,)  # the module on disk: the tests run before `pip install -e .` too


def _epochs(cb: lr_log.LrLog, state: Any, epochs: range) -> None:
    for epoch in epochs:
        state.epoch = epoch
        for group in state.optimizer.param_groups:
            group["lr"] = 0.1 / (epoch + 1)
        cb.on_epoch_end(state)


def test_one_row_per_epoch_and_group_in_the_fold_folder() -> None:
    state, cb = train_state(), lr_log.LrLog("lr.csv")
    cb.on_fold_start(state)
    _epochs(cb, state, range(3))
    table = pd.read_csv(state.fold_dir / "lr.csv")
    assert list(table.columns) == list(lr_log.COLUMNS) and table["epoch"].tolist() == [0, 1, 2]
    assert table["lr"].tolist() == [0.1, 0.05, 0.1 / 3]


def test_a_resumed_fold_rewrites_the_same_file() -> None:
    state, cb = train_state(), lr_log.LrLog("lr.csv")
    cb.on_fold_start(state)
    _epochs(cb, state, range(2))
    saved = cb.state_dict()
    _epochs(cb, state, range(2, 4))
    whole = (state.fold_dir / "lr.csv").read_text()
    again = lr_log.LrLog("lr.csv")  # killed after epoch 2, then resumed: started, then restored
    again.on_fold_start(state)
    again.load_state_dict(saved)
    _epochs(again, state, range(2, 4))
    assert (state.fold_dir / "lr.csv").read_text() == whole
