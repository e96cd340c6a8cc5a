"""Exact resume: a run SIGKILLed mid-epoch (twice) and resumed ends bitwise equal to an
uninterrupted one; checkpoints are atomic and verified; a dead rank ends the job promptly."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from .conftest import TINY
from .test_e2e import harness, two_processes

pytestmark = pytest.mark.slow

# Every source of randomness on: random crops and flips in 1 worker, CutMix, dropout, EMA.
SETS = [
    "--set", "train.batch_size=4", "--set", "train.epochs=3", "--set", "train.checkpoint_every=2",
    "--set", "augment.crop='random_resized'", "--set", "data.num_workers=1", "--set", "model.drop_rate=0.2",
    "--set", "batch_transforms.mixup_cutmix.cutmix_alpha=1.0", "--set", "callbacks.ema.decay=0.9",
    "--set", "scheduler.name='warmup_cosine'", "--set", "train.deterministic=true",  # bitwise on a GPU too
]


def _recipe(tmp_path: Path, root: Path) -> Path:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=root))
    return recipe


def _same_run(a: Path, b: Path, folds: tuple[str, ...] = ("fold0", "fold1")) -> None:
    for name in ["oof.csv", "submission.csv", *(f"{f}/steps.csv" for f in folds)]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for fold in folds:
        for weights in ("best_raw.safetensors", "best_ema.safetensors"):
            wa, wb = load_file(a / fold / weights), load_file(b / fold / weights)
            assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), (fold, weights)
        last_a = sorted((a / fold / "checkpoints").glob("step-*"))[-1]
        last_b = sorted((b / fold / "checkpoints").glob("step-*"))[-1]
        assert last_a.name == last_b.name
        assert (last_a / "model.safetensors").read_bytes() == (last_b / "model.safetensors").read_bytes()
        oa = torch.load(last_a / "optimizer.pt", weights_only=True)
        ob = torch.load(last_b / "optimizer.pt", weights_only=True)
        for k, s in oa["state"].items():
            for n, v in s.items():
                assert torch.equal(v, ob["state"][k][n]), (fold, k, n)
        ta = torch.load(last_a / "trainer.pt", weights_only=True)
        tb = torch.load(last_b / "trainer.pt", weights_only=True)
        assert ta["trainer"]["step_losses"] == tb["trainer"]["step_losses"] and ta["components"].keys() == tb["components"].keys()


# fp32 here; bf16 resume is proven bitwise by test_distill_e2e.py's killed distilled run, which adds the
# teacher, pseudo-labels and autocast to every source of randomness below (the harder of the two).
def test_sigkill_twice_mid_epoch_then_resume_is_bitwise(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = _recipe(tmp_path, kaggle_comp)
    sets = [*SETS, "--set", "train.precision='fp32'"]
    full = harness("run", str(recipe), "--out", "full", *sets, cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert "non-finite" not in full.stderr and "1-pixel side" not in full.stderr  # a healthy fp32 run to compare
    # 15 images a fold, batches of 4: 3 updates an epoch. Die at update 5 (epoch 2, after the
    # checkpoint at update 4), resume, die at update 6 (same epoch, before its epoch-end checkpoint).
    for die_at in ("5", "6"):
        args = ["run", str(recipe), "--out", "cut", *sets] if die_at == "5" else ["run", str(recipe), "--out", "cut", "--resume"]
        os.environ["HARNESS_DIE_AT_UPDATE"] = die_at
        try:
            killed = harness(*args, cwd=tmp_path)
        finally:
            del os.environ["HARNESS_DIE_AT_UPDATE"]
        assert killed.returncode == -9, killed.stderr  # SIGKILL
    resumed = harness("run", str(recipe), "--out", "cut", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from step-00000004" in resumed.stderr
    _same_run(tmp_path / "full", tmp_path / "cut")


def test_finished_folds_are_skipped(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = _recipe(tmp_path, kaggle_comp)
    os.environ.update(HARNESS_DIE_AT_UPDATE="2", HARNESS_DIE_FOLD="1")  # one update an epoch: epoch 2 of fold 1
    try:
        first = harness("run", str(recipe), "--out", "run", cwd=tmp_path)
    finally:
        del os.environ["HARNESS_DIE_AT_UPDATE"], os.environ["HARNESS_DIE_FOLD"]
    assert first.returncode == -9
    assert (tmp_path / "run" / "fold0" / "result.json").is_file()
    assert not (tmp_path / "run" / "fold1" / "result.json").exists()
    fold0 = (tmp_path / "run" / "fold0" / "best_raw.safetensors").stat().st_mtime_ns
    done = harness("run", "--resume", "--out", "run", cwd=tmp_path)  # the folder alone: its recipe.toml runs
    assert done.returncode == 0, done.stderr
    assert "fold 1/2: finished before, skipped" in done.stderr
    assert (tmp_path / "run" / "fold0" / "best_raw.safetensors").stat().st_mtime_ns == fold0
    oof = pd.read_csv(tmp_path / "run" / "oof.csv")
    assert oof.id.is_unique and len(oof) == 30


def test_resume_without_a_run_is_an_error(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = _recipe(tmp_path, kaggle_comp)
    res = harness("run", str(recipe), "--out", "nothing", "--resume", cwd=tmp_path)
    assert res.returncode == 2 and "holds no run to resume" in res.stderr


def test_dead_rank_ends_the_job_promptly_and_resumes(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = _recipe(tmp_path, kaggle_comp)
    launch = two_processes()
    os.environ.update(HARNESS_DIE_AT_UPDATE="2", HARNESS_DIE_RANK="1")
    try:
        start = time.monotonic()
        dead = harness("run", str(recipe), "--out", "mp", "--set", "train.batch_size=4", "--set", "train.checkpoint_every=1",
                       cwd=tmp_path, launcher=launch, timeout=240)
        elapsed = time.monotonic() - start
    finally:
        del os.environ["HARNESS_DIE_AT_UPDATE"], os.environ["HARNESS_DIE_RANK"]
    assert dead.returncode != 0 and elapsed < 180
    resumed = harness("run", str(recipe), "--out", "mp", "--resume", cwd=tmp_path, launcher=launch)
    assert resumed.returncode == 0, resumed.stderr
    oof = pd.read_csv(tmp_path / "mp" / "oof.csv")
    assert oof.id.is_unique and len(oof) == 30


def test_array_store_sigkill_mid_epoch_then_resume_is_bitwise(tmp_path: Path, kaggle_comp: Path) -> None:
    """The whole-batch path (data.array, random shifts and flips on the batch) resumes exactly too,
    with the CIFAR record's tricks: the airbench net (its whitening stem fitted on the first batch),
    alternating flips, lookahead and BatchNorm shifts at their own rate. The killed run keeps the
    array whole in memory (`data.array_on_device = "yes"`, a GPU's path) where the full one reads the
    memory map: the two ways of reading a batch give the same run, to the byte."""
    recipe = _recipe(tmp_path, kaggle_comp)
    sets = [*SETS, "--set", "data.array=true", "--set", "augment.crop='resize'", "--set", "augment.hflip=0.0",
            "--set", "data.num_workers=0", "--set", "batch_transforms.crop_flip.pad=2", "--set", "cv.only=[0]",
            "--set", "batch_transforms.crop_flip.alternate=true", "--set", "callbacks.lookahead.every=2",
            "--set", "model.source='cifar'", "--set", "model.name='airbench'", "--set", "train.norm_lr_mult=8.0"]
    full = harness("run", str(recipe), "--out", "full", *sets, cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert "image array built" in full.stderr and "kept whole" not in full.stderr
    os.environ["HARNESS_DIE_AT_UPDATE"] = "5"
    try:
        killed = harness("run", str(recipe), "--out", "cut", *sets, "--set", "data.array_on_device='yes'", cwd=tmp_path)
    finally:
        del os.environ["HARNESS_DIE_AT_UPDATE"]
    assert killed.returncode == -9, killed.stderr
    resumed = harness("run", str(recipe), "--out", "cut", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "image array reused" in resumed.stderr and "resuming from step-00000004" in resumed.stderr
    assert "image array kept whole on cpu (yes)" in resumed.stderr
    _same_run(tmp_path / "full", tmp_path / "cut", folds=("fold0",))
