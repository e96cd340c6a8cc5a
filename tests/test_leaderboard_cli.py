"""End to end through the real CLI: make a competition from an ImageFolder, submit a hand-written
file, show the final leaderboard. No model is trained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.testing import make_imagefolder

ROOT = Path(__file__).resolve().parents[1]


def _harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_LEADERBOARD": str(cwd / "board")}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_competition_submit_leaderboard(tmp_path: Path) -> None:
    make_imagefolder(tmp_path / "src", classes=2, per_class=4, val_per_class=6)
    made = _harness("competition", "new", "toy", "--from", "src", "--out", "comp", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "board" / "toy" / "competition.toml").is_file()
    listed = _harness("competition", "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("toy ")
    key = pd.read_csv(tmp_path / "comp" / "private" / "solution.csv", dtype=str)
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text('{"metric": "accuracy", "cv_score": 0.75}')
    sub = key[["id", "label"]].sample(frac=1, random_state=0)  # every label right, rows shuffled
    sub.loc[sub.index[:3], "label"] = "class_0"
    sub.to_csv(run / "submission.csv", index=False)
    done = _harness("submit", "runs/mine/submission.csv", "--competition", "toy", "--message", "by hand", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "public accuracy" in done.stdout and "hidden until" in done.stdout
    row = pd.read_csv(tmp_path / "board" / "toy" / "leaderboard.csv").iloc[0]
    assert row["source"] == "runs/mine" and row["cv_score"] == 0.75
    private = f"{row['private_score']:.5f}"
    shown = _harness("leaderboard", "toy", cwd=tmp_path)
    assert shown.returncode == 0 and private not in shown.stdout.replace(f"{row['public_score']:.5f}", "")
    final = _harness("leaderboard", "toy", "--final", cwd=tmp_path)
    assert final.returncode == 0 and private in final.stdout and "shake-up" in final.stdout
    assert "data:image/png;base64," in (tmp_path / "board" / "toy" / "leaderboard.html").read_text()
    ref = _harness("leaderboard", "toy", "--final", "--reference", "a published score", "--private", "0.99",
                   "--source", "example.org", cwd=tmp_path)
    assert ref.returncode == 0 and "a published score" in ref.stdout and "0.99000" in ref.stdout, ref.stderr
    assert pd.read_csv(tmp_path / "board" / "toy" / "leaderboard.csv").sha256.iloc[-1] == "external"
    lone = _harness("leaderboard", "toy", "--private", "0.5", cwd=tmp_path)
    assert lone.returncode == 2 and "--reference MESSAGE" in lone.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("id;label\n")
    refused = _harness("submit", "bad.csv", "--competition", "toy", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("harness: error: submission bad.csv separates")
    assert not (tmp_path / "leaderboard").exists()  # nothing lands in a shipped leaderboard/ folder
