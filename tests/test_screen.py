"""Screening before training: bad training images are skipped and named in one list (above
`data.max_bad_fraction` the run stops), a bad image to predict is an error, and each store (the
files, the per-image cache, the image array) comes back filled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.config.recipe import load_recipe
from harness.config.schema import Recipe
from harness.data.competition import Competition, Split
from harness.errors import HarnessError
from harness.train.screen import screen_images

from .test_images import make_truncated_jpeg, make_zero_byte, noise


class FakeAccelerator:
    """The three members of accelerate.Accelerator that the screen uses, for a single process."""

    is_main_process = True
    device = torch.device("cpu")

    def wait_for_everyone(self) -> None:
        pass


def tiny_competition(root: Path, bad_train: int, bad_test: int) -> Competition:
    """Eight training images (two classes) and two test images; the first few of each are bad."""
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    train = [root / "train" / f"{i}.png" for i in range(8)]
    test = [root / "test" / f"t{i}.png" for i in range(2)]
    for i, p in enumerate(train):
        if i < bad_train:
            make_truncated_jpeg(p)
        else:
            Image.fromarray(noise(8, 8, seed=i)).save(p)
    for i, p in enumerate(test):
        if i < bad_test:
            make_zero_byte(p)
        else:
            Image.fromarray(noise(8, 8, seed=50 + i)).save(p)
    labels = np.array([0, 1] * 4)
    return Competition(
        root,
        "kaggle",
        ("a", "b"),
        Split(tuple(p.stem for p in train), tuple(train), labels),
        Split(tuple(p.stem for p in test), tuple(test), None),
        None,
        None,
    )


def recipe_for(tmp_path: Path, max_bad_fraction: float, cache: bool = False, array: bool = False) -> Recipe:
    text = f"[data]\nmax_bad_fraction = {max_bad_fraction}\nnum_workers = 0\ncache = {str(cache).lower()}\n"
    text += f"array = {str(array).lower()}\n"
    text += f'cache_dir = "{tmp_path / "cache"}"\nimage_size = 8\n'
    (tmp_path / "recipe.toml").write_text(text)
    return load_recipe(tmp_path / "recipe.toml")


@pytest.mark.parametrize("store", ["files", "cache", "array"])
def test_screen_skips_and_names_bad_training_images(tmp_path: Path, store: str) -> None:
    from harness.data.stores import ArrayStore, FileStore

    comp = tiny_competition(tmp_path / "comp", bad_train=2, bad_test=0)
    said: list[str] = []
    recipe = recipe_for(tmp_path, 0.25, store == "cache", store == "array")
    kept, found = screen_images(comp, recipe, FakeAccelerator(), tmp_path, said.append)
    assert kept.train.ids == tuple(str(i) for i in range(2, 8))
    assert list(kept.train.labels) == [0, 1] * 3
    assert kept.test == comp.test
    skipped = [line for line in said if "skipping" in line]
    assert len(skipped) == 1 and "skipping 2 unreadable training image(s)" in skipped[0]
    assert "0.png" in skipped[0] and "1.png" in skipped[0] and "2.png" not in skipped[0]
    assert str(tmp_path / "bad_images.json") in skipped[0]  # the one list that names them all
    if store == "files":
        assert found is None
    elif store == "cache":
        assert isinstance(found, FileStore)
        assert len(found.entries) == 8 and all(e.is_file() for e in found.entries.values())
    else:
        assert isinstance(found, ArrayStore) and found.images.array.shape == (10, 8, 8, 3)
        assert found.dataset(comp.train.paths[:2], None, lambda x: x) is None  # the bad rows are never read
        assert found.dataset(kept.train.paths, kept.train.labels, lambda x: x) is not None


def test_screen_stops_above_max_bad_fraction(tmp_path: Path) -> None:
    comp = tiny_competition(tmp_path / "comp", bad_train=3, bad_test=0)
    with pytest.raises(HarnessError, match=r"3 of 8 training images .* data\.max_bad_fraction=0\.25.*0\.png"):
        screen_images(comp, recipe_for(tmp_path, 0.25), FakeAccelerator(), tmp_path, lambda _: None)


def test_screen_refuses_a_bad_test_image(tmp_path: Path) -> None:
    comp = tiny_competition(tmp_path / "comp", bad_train=0, bad_test=1)
    with pytest.raises(HarnessError, match=r"1 unreadable test image.*t0\.png \(empty file"):
        screen_images(comp, recipe_for(tmp_path, 0.5), FakeAccelerator(), tmp_path, lambda _: None)


def test_screen_passes_a_clean_competition_unchanged(tmp_path: Path) -> None:
    comp = tiny_competition(tmp_path / "comp", bad_train=0, bad_test=0)
    said: list[str] = []
    kept, entries = screen_images(comp, recipe_for(tmp_path, 0.0), FakeAccelerator(), tmp_path, said.append)
    assert kept == comp and entries is None and said == []
