"""Competitions outside the repository: the definitions harness ships are package data, listed and
found from any working directory; `harness data digits DIR` registers DIR, so a submission scores
wherever the folder was written; and each error names the command that fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.leaderboard.registry import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
FIX_DIGITS = ("write it with `harness data digits data/digits`, or register the folder that holds it with "
              "`harness competition new digits --from DIR`")


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the checkout, with the default board."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HARNESS_LEADERBOARD", raising=False)
    return tmp_path


def test_the_shipped_definitions_are_package_data() -> None:
    assert SHIPPED.is_relative_to(ROOT / "harness")  # inside the package, not the checkout's leaderboard/
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["harness.leaderboard"]
    declared = {p for pattern in patterns for p in (ROOT / "harness" / "leaderboard").glob(pattern)}
    assert declared == set(SHIPPED.glob("*/competition.toml")) and len(declared) == 3


def test_list_works_outside_the_checkout(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["competition", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["cifar10", "digits", "hymenoptera"]
    assert lines[1].endswith(f"(no answer key here: {FIX_DIGITS})")


def test_a_missing_answer_key_names_both_fixes(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (outside / "sub.csv").write_text("id,label\n")
    assert main(["submit", "sub.csv", "--competition", "digits"]) == 2
    assert capsys.readouterr().err == (f"harness: error: the answer key data/digits/private/solution.csv of "
                                       f"competition 'digits' is missing: {FIX_DIGITS}\n")


def test_an_unknown_competition_names_the_commands(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "sub.csv", "--competition", "pets"]) == 2
    err = capsys.readouterr().err
    assert "(registered: cifar10, digits, hymenoptera)" in err
    assert "make one with `harness competition new pets --from DIR`, or pass the board it was registered in " in err


@pytest.mark.slow
def test_digits_written_elsewhere_is_registered_and_scores(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_LEADERBOARD"}

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    made = harness("data", "digits", str(elsewhere))
    assert made.returncode == 0, made.stderr
    assert "registered the competition 'digits' in runs/leaderboard/digits/competition.toml" in made.stdout
    listed = harness("competition", "list")
    assert listed.stdout.startswith("digits ") and "runs/leaderboard/digits/competition.toml\n" in listed.stdout
    key = pd.read_csv(elsewhere / "private" / "solution.csv", dtype=str)
    key[["id", "label"]].to_csv(work / "perfect.csv", index=False)
    scored = harness("submit", "perfect.csv", "--competition", "digits")
    assert scored.returncode == 0, scored.stderr
    assert "digits: public accuracy 1.00000" in scored.stdout
    again = harness("data", "digits", str(elsewhere))  # rewriting it keeps the registration
    assert again.returncode == 0 and "registered" in again.stdout
