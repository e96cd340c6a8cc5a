"""The README's quickstart block works as written: it shows exactly the two set-up commands, and the
harness commands of scripts/quickstart.sh run end to end (data, run, submit, leaderboard) in a
temporary copy, on a tiny budget. scripts/test.sh is the command that runs this very test, so it is
checked to exist, not run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quickstart_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Set-up: two commands.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README has no set-up block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]


def test_readme_shows_the_two_commands() -> None:
    assert quickstart_block() == ["bash scripts/quickstart.sh", "bash scripts/test.sh"]
    for script in ("quickstart.sh", "test.sh"):
        assert (ROOT / "scripts" / script).is_file()


def harness_part(script: str) -> str:
    """The quickstart's own commands: everything after the set-up (setup.sh and the venv)."""
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(". .venv/bin/activate")) + 1
    body = "\n".join(lines[start:])
    assert "harness run" in body and "harness data digits" in body
    return "set -euo pipefail\n" + body + "\n"


@pytest.mark.slow
def test_quickstart_commands_run(tmp_path: Path) -> None:
    work = tmp_path / "copy"
    work.mkdir()
    shutil.copytree(ROOT / "recipes", work / "recipes")  # the digits definition comes with the package
    script = work / "quickstart_commands.sh"
    script.write_text(harness_part((ROOT / "scripts" / "quickstart.sh").read_text()))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HARNESS_LEADERBOARD": str(work / "runs" / "leaderboard")}
    res = subprocess.run(["bash", str(script), "--set", "train.epochs=1", "--set", "cv.folds=2"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert re.search(r"digits: public accuracy \d\.\d{5}", res.stdout), res.stdout
    assert "quickstart: recipes/digits.toml" in res.stdout  # the leaderboard lists the submission
    runs = list((work / "runs").glob("digits-*/submission.csv"))
    assert len(runs) == 1
