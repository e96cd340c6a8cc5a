"""log.jsonl has one writer, a fold rewriting its own rows: the other folds' rows stay, and an
epoch replayed after a resume replaces its row instead of repeating it."""

from __future__ import annotations

from pathlib import Path

from harness.outputs.epoch_log import LOG, read_log, write_fold_log


def test_a_fold_rewrites_only_its_own_rows(tmp_path: Path) -> None:
    assert read_log(tmp_path) == []
    write_fold_log(tmp_path, 0, [{"fold": 0, "epoch": 0}, {"fold": 0, "epoch": 1}])
    write_fold_log(tmp_path, 1, [{"fold": 1, "epoch": 0}])
    # fold 1 resumed: its history (restored from the checkpoint) holds epoch 0 once more, then epoch 1
    write_fold_log(tmp_path, 1, [{"fold": 1, "epoch": 0}, {"fold": 1, "epoch": 1}])
    assert [(r["fold"], r["epoch"]) for r in read_log(tmp_path)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert (tmp_path / LOG).read_text().count("\n") == 4
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind
