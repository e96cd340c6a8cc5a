"""Progressive resizing (`[augment] name = "progressive"`): the size and the crop's reach follow the
schedule epoch by epoch, every item of an epoch shares one size, a run cut mid-epoch resumes to
the same result, and the decoded-image cache is filled once at the final size and reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config.recipe import load_recipe
from harness.config.typed import from_dict
from harness.data.cache import ImageCache
from harness.data.dataset import ImageDataset
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.testing import context, make_kaggle_competition
from harness.train import fold as fold_module
from harness.train.run import run_experiment
from harness_plugins.augment.progressive import ProgressiveOptions, ProgressiveTransform, Stage, build_progressive, stage

from .conftest import TINY


@pytest.mark.parametrize("epochs,final_epochs", [(5, 1), (10, 3), (3, 1), (1, 1), (2, 4)])
def test_sizes_and_crop_reach_follow_the_schedule(epochs: int, final_epochs: int) -> None:
    opts = ProgressiveOptions(start_size=0.7, start_scale_min=0.6, scale_min=0.25, final_epochs=final_epochs)
    stages = [stage(e, epochs, 224, opts) for e in range(epochs)]
    sizes, scales = [s.size for s in stages], [s.scale_min for s in stages]
    assert sizes == sorted(sizes) and scales == sorted(scales, reverse=True)  # both grow
    assert all(s % 16 == 0 for s in sizes)
    assert stages[-min(final_epochs, epochs):] == [Stage(224, 0.25)] * min(final_epochs, epochs)
    if epochs > final_epochs:
        assert stages[0] == Stage(160, 0.6)  # 0.7 * 224 = 156.8, to the nearest multiple of 16


def test_five_epochs_grow_linearly() -> None:
    stages = [stage(e, 5, 224, ProgressiveOptions(start_size=0.7, start_scale_min=0.6, scale_min=0.2)) for e in range(5)]
    assert [s.size for s in stages] == [160, 176, 192, 208, 224]
    assert [s.scale_min for s in stages] == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2])


def test_items_of_an_epoch_share_its_size_and_replay_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((40, 30), (64, 64), (33, 90))]
    paths = []
    for k, arr in enumerate(arrays):
        paths.append(tmp_path / f"{k}.npy")
        np.save(paths[-1], arr)
    ctx = context(num_classes=2, image_size=32, epochs=3)
    tf = build_progressive(ProgressiveOptions(start_size=0.5, multiple=8, crop="random_resized"), ctx, True)
    assert isinstance(tf, ProgressiveTransform)
    ds = ImageDataset(paths, np.zeros(3, dtype=np.int64), tf, cache_entries=paths, seed=7)
    for epoch, size in enumerate([16, 24, 32]):
        for i in range(3):
            image, _, _ = ds[(i, epoch)]
            assert image.shape == (3, size, size)
            torch.testing.assert_close(ds[(i, epoch)][0], image, rtol=0, atol=0)  # a pure function of (i, epoch)
    assert ds[0][0].shape == (3, 32, 32)  # without an epoch: the final size, as prediction sees it
    assert build_progressive(ProgressiveOptions(), ctx, False)(torch.zeros(3, 40, 30, dtype=torch.uint8)).shape == (3, 32, 32)


@pytest.mark.parametrize("key,value", [("start_size", 0.0), ("start_size", 1.5), ("start_scale_min", 0.0),
                                       ("final_epochs", 0), ("multiple", 0), ("scale_min", 0.0)])
def test_bad_options_are_rejected(key: str, value: float) -> None:
    with pytest.raises(HarnessError, match=key):
        from_dict(ProgressiveOptions, {key: value}, "augment")


class Killed(Exception):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_run_cut_mid_epoch_resumes_exactly_and_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capfd: pytest.CaptureFixture[str], precision: str) -> None:
    """Three epochs at 16, 24 and 32 px with layer decay; one run straight through, one cut at
    update 5 (epoch 2, after the checkpoint at update 4) and resumed. Both must end bitwise alike,
    and all three share the cache entries the first filled, at the final size."""
    comp = make_kaggle_competition(tmp_path / "comp", per_class=10, size=48)
    recipe_file = tmp_path / "tiny.toml"
    recipe_file.write_text(TINY.format(root=comp))
    cache = tmp_path / "cache"
    plugins = load_plugins()
    sets = ["data.image_size=32", "data.extension='.png'", "train.batch_size=4", "train.epochs=3", "train.checkpoint_every=2",
            "train.layer_decay=0.8", "augment.name='progressive'", "augment.crop='random_resized'",
            "augment.start_size=0.5", "augment.multiple=8", "data.cache=true", f"data.cache_dir='{cache}'",
            f"train.precision='{precision}'"]
    recipe = load_recipe(recipe_file, sets, plugins)

    sizes: dict[int, set[int]] = {}
    item = ImageDataset.__getitem__

    def spy(self: ImageDataset, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        out = item(self, key)
        if isinstance(key, tuple):
            sizes.setdefault(key[1], set()).add(out[0].shape[-1])
        return out

    monkeypatch.setattr(ImageDataset, "__getitem__", spy)
    run_experiment(recipe, tmp_path / "full", plugins)
    assert sizes == {0: {16}, 1: {24}, 2: {32}}
    entries = {p: p.stat().st_mtime_ns for p in cache.glob("*.npy")}
    assert len(entries) == 30 + 9  # every train and test image once
    assert all(ImageCache.read(p).shape[:2] == (37, 37) for p in entries)  # round(32 * 1.15): the final size

    def die(update: int, rank: int, fold: int) -> None:
        if update == 5:
            raise Killed

    monkeypatch.setattr(fold_module, "maybe_die", die)
    with pytest.raises(Killed):
        run_experiment(recipe, tmp_path / "cut", plugins)
    monkeypatch.setattr(fold_module, "maybe_die", lambda *a: None)
    capfd.readouterr()
    run_experiment(recipe, tmp_path / "cut", plugins, resume=True)
    assert "resuming from step-00000004 (epoch 2, step 1)" in capfd.readouterr().err

    for name in ["oof.csv", "submission.csv", "fold0/steps.csv", "fold1/steps.csv"]:
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes(), name
    for k in (0, 1):
        a, b = (tmp_path / run / f"fold{k}" / "best_raw.safetensors" for run in ("full", "cut"))
        assert a.read_bytes() == b.read_bytes()
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.npy")} == entries  # reused, none rewritten or added
