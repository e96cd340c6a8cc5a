from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two test workers share the machine's cores (scripts/test.sh): one thread each, for the torch in
    # this process and in every CLI process a test starts, so that no OpenMP team spins against the
    # other worker's.
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest

from harness.testing import make_imagefolder, make_kaggle_competition

# What `train.precision = "auto"` means in every test and every CLI run a test starts, whatever the
# CPU (auto would pick bf16 on AMX only): fp32 unless the caller says otherwise, e.g.
# `HARNESS_AUTO_PRECISION=bf16 bash scripts/test.sh`. The numerics-sensitive tests also run both
# precisions by name.
os.environ.setdefault("HARNESS_AUTO_PRECISION", "fp32")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", ROOT.parent / "shared"))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():  # type: ignore[no-untyped-def]
    """Accelerate keeps one state per process: a test's CPU Accelerator must not meet the GPU
    state an earlier test's run left behind."""
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture
def kaggle_comp(tmp_path: Path) -> Path:
    return make_kaggle_competition(tmp_path / "comp")


@pytest.fixture
def imagefolder_comp(tmp_path: Path) -> Path:
    return make_imagefolder(tmp_path / "folder")


def write_recipe(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


TINY = """
[data]
root = "{root}"
image_size = 16
num_workers = 0

[model]
name = "test_resnet"
channels_last = false

[train]
epochs = 2
batch_size = 8
lr = 0.003
seed = 0

[cv]
folds = 2

[augment]
crop = "resize"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m harness ARGS` in `cwd`, with its own decoded-image cache in `cwd/cache`."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HARNESS_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def train_tiny(root: Path, *sets: str) -> Path:
    """A finished TINY run on a generated Kaggle competition: `root/comp` and `root/run`, with the
    `--set` overrides given; returns `root`."""
    comp = make_kaggle_competition(root / "comp")
    (root / "tiny.toml").write_text(TINY.format(root=comp))
    res = cli("run", "tiny.toml", "--out", "run", "--set", "data.extension='.png'",
              *[a for s in sets for a in ("--set", s)], cwd=root)
    assert res.returncode == 0, res.stderr
    return root
