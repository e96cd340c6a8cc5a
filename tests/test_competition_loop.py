"""The whole competition loop through the real CLI: two runs with different seeds and models on
shared folds, an ensemble of them, a submission scored on the hidden key, and its leaderboard row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from .conftest import TINY
from .test_e2e import harness

pytestmark = pytest.mark.slow


def test_runs_ensemble_submit_leaderboard(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=kaggle_comp))
    a = harness("run", str(recipe), "--out", "a", "--set", "train.seed=1", cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    b = harness("run", str(recipe), "--out", "b", "--set", "train.seed=2", "--set", "model.name='resnet10t'",
                "--set", "tta.views=['identity','hflip']", cwd=tmp_path)
    assert b.returncode == 0, b.stderr
    ens = harness("ensemble", "a", "b", "--out", "ens", "--method", "hill_climb", cwd=tmp_path)
    assert ens.returncode == 0, ens.stderr
    board = tmp_path / "board"
    new = harness("competition", "new", "tiny", "--from", str(kaggle_comp), "--board", str(board), cwd=tmp_path)
    assert new.returncode == 0, new.stderr
    sub = harness("submit", "ens/submission.csv", "--competition", "tiny", "--board", str(board), "--message", "two runs",
                  cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    assert "public accuracy" in sub.stdout
    rows = pd.read_csv(board / "tiny" / "leaderboard.csv")
    assert len(rows) == 1
    row = rows.iloc[0]
    cv = json.loads((tmp_path / "ens" / "metrics.json").read_text())["cv_score"]
    assert str(row.source).endswith("ens") and row.message == "two runs"
    assert row.cv_score == pytest.approx(cv) and 0 <= row.public_score <= 1
    board_page = harness("leaderboard", "tiny", "--board", str(board), cwd=tmp_path)
    assert board_page.returncode == 0, board_page.stderr
    assert "hidden" in board_page.stdout and (board / "tiny" / "leaderboard.html").is_file()
    manifest = json.loads((tmp_path / "ens" / "run.json").read_text())
    assert manifest["kind"] == "ensemble" and len(manifest["members"]) == 2
