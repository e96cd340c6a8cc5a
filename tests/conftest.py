from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.testing import make_imagefolder, make_kaggle_competition

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", ROOT.parent / "shared"))


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
