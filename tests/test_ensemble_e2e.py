"""The real CLI: two tiny real runs that share folds, ensembled, and the ensemble ensembled again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.testing import make_kaggle_competition

from .conftest import TINY

pytestmark = pytest.mark.slow


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_ensemble_two_real_runs(tmp_path: Path) -> None:
    comp = make_kaggle_competition(tmp_path / "comp")
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=comp))
    for name, seed in (("r1", 0), ("r2", 1)):
        res = harness("run", str(recipe), "--out", name, "--set", "train.epochs=1", "--set", f"train.seed={seed}",
                      "--set", "tta.views=['identity','hflip']", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    res = harness("ensemble", "r1", "r2", "--out", "ens", "--method", "hill_climb", "--tta", "select", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "hill_climb nested" in res.stdout and "Traceback" not in res.stderr
    ens = tmp_path / "ens"
    summary = json.loads((ens / "ensemble.json").read_text())
    assert [m["name"] for m in summary["members"]] == ["r1", "r2"]
    assert set(summary["members"][0]["view_scores"]) == {"identity", "hflip"}
    assert summary["scores"]["oof_nested"] is not None and summary["folds"] == [0, 1]
    sample = pd.read_csv(comp / "sample_submission.csv")
    sub = pd.read_csv(ens / "submission.csv")
    assert list(sub.columns) == list(sample.columns) and list(sub.id) == list(sample.id)
    oof = pd.read_csv(ens / "oof.csv")
    assert sorted(oof.id) == sorted(pd.read_csv(comp / "train.csv").id)
    assert (ens / "correlation.png").stat().st_size > 0
    again = harness("ensemble", "ens", "r1", "--out", "ens2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "ens2" / "run.json").read_text())["kind"] == "ensemble"
