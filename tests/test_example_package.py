"""The example plugin package examples/harness-kaggle-kit (a loss, a metric, a batch transform and a
callback in one package, written from the docs) as a competitor uses it: installed into a fresh
virtual environment, listed without a warning, contract-tested there, used by a run that is killed
with SIGKILL and resumed with `harness run --resume --out DIR`, ensembled with a second run, and
submitted to a competition scored with its own metric."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.testing import make_imagefolder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "examples" / "harness-kaggle-kit"
COMPONENTS = ("poly1", "map3", "gridmask", "lr_log")

RECIPE = """
[data]
root = "{root}"
image_size = 16
num_workers = 0

[model]
name = "test_resnet"
channels_last = false

[train]
epochs = 3
batch_size = 8
lr = 0.003
seed = 0
checkpoint_every = 1

[cv]
folds = 2
metric = "map3"

[augment]
crop = "resize"

[scheduler]
name = "warmup_cosine"

[loss]
name = "poly1"
epsilon = 1.0

[batch_transforms.gridmask]
prob = 0.7

[callbacks.lr_log]
"""


def fresh_venv(where: Path) -> Path:
    """A new virtual environment whose own site-packages is empty, and which sees the packages of the
    interpreter running the tests (torch, harness) as --system-site-packages would show a system's:
    a .pth file runs site.addsitedir on each of its site-packages folders (their editable installs
    included). Returns the new environment's python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(own, "zz_parent_packages.pth").write_text("import site; " + "; ".join(f"site.addsitedir({p!r})" for p in parents)
                                                   + "\n")
    return python


def test_the_example_package_from_install_to_leaderboard(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HARNESS_CACHE": str(tmp_path / "cache")}
    env.pop("HARNESS_PLUGINS", None)

    def run(*args: str | Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), *map(str, args)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                              env={**env, **(extra or {})})

    def harness(*args: str | Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run("-m", "harness", *args, extra=extra)

    installed = run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", KIT)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = run("-c", "import harness_kaggle_kit.map3 as m; print(m.__file__)")
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr  # this copy, not the checkout's

    listed = harness("plugins")
    assert listed.returncode == 0 and "harness: warning" not in listed.stderr, listed.stderr
    for name in COMPONENTS:
        assert f"{name}  [harness-kaggle-kit 0.1.0]" in listed.stdout

    shutil.copytree(KIT / "tests", tmp_path / "kit_tests")  # the package's tests, on the installed package
    tested = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path / "kit_tests", tmp_path / "kit_tests")
    assert tested.returncode == 0, tested.stdout[-3000:]

    make_imagefolder(tmp_path / "photos", classes=4, per_class=8, val_per_class=4)
    made = harness("competition", "new", "pets", "--from", "photos", "--out", "comp", "--metric", "map3",
                   "--board", "board")
    assert made.returncode == 0, made.stderr
    assert "probability submissions, map3" in made.stdout
    (tmp_path / "kit.toml").write_text(RECIPE.format(root=tmp_path / "comp"))

    killed = harness("run", "kit.toml", "--out", "a", extra={"HARNESS_DIE_AT_UPDATE": "5", "HARNESS_DIE_FOLD": "0"})
    assert killed.returncode == -9, killed.stderr  # SIGKILL in fold 1's third epoch
    resumed = harness("run", "--resume", "--out", "a")
    assert resumed.returncode == 0, resumed.stderr
    assert "fold 1: resuming from step-00000004" in resumed.stderr
    other = harness("run", "kit.toml", "--out", "b", "--set", "train.seed=1")
    assert other.returncode == 0, other.stderr
    for fold in ("fold0", "fold1"):
        logged = pd.read_csv(tmp_path / "a" / fold / "lr.csv")
        assert sorted(set(logged["epoch"])) == [0, 1, 2] and not logged.duplicated(["epoch", "group"]).any()
        # the schedule does not depend on the seed: the resumed run logged what the uninterrupted one did
        assert (tmp_path / "a" / fold / "lr.csv").read_text() == (tmp_path / "b" / fold / "lr.csv").read_text()
    assert '"metric": "map3"' in (tmp_path / "a" / "run.json").read_text()

    ens = harness("ensemble", "a", "b", "--out", "ens")
    assert ens.returncode == 0, ens.stderr
    sub = harness("submit", "ens/submission.csv", "--competition", "pets", "--board", "board", "--message", "kit")
    assert sub.returncode == 0, sub.stderr
    assert "pets: public map3 " in sub.stdout
    row = pd.read_csv(tmp_path / "board" / "pets" / "leaderboard.csv").iloc[0]
    assert row["source"] == "ens" and row["cv_metric"] == "map3" and 0.0 <= row["public_score"] <= 1.0
