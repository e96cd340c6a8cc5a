"""The run warns when the image cache keeps too few pixels for the smallest random crop: that crop
would be an upscaled patch, blurrier than the images the run is scored on."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.recipe import load_recipe
from harness.plugin_manager import Plugins, load_plugins
from harness.train.screen import crop_detail_warning

from .conftest import TINY, cli, make_kaggle_competition

RECIPES = Path(__file__).parents[1] / "recipes"


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins()


def _warning(tmp_path: Path, plugins: Plugins, *sets: str) -> str | None:
    (tmp_path / "r.toml").write_text(TINY.format(root=tmp_path))
    return crop_detail_warning(load_recipe(tmp_path / "r.toml", ["data.image_size=224", *sets], plugins))


def test_the_default_oversize_with_quarter_area_crops_warns_and_names_the_fix(tmp_path: Path, plugins: Plugins) -> None:
    note = _warning(tmp_path, plugins, "data.cache=true", "augment.crop='random_resized'", "augment.scale_min=0.25")
    assert note is not None
    assert "258 px" in note and "129 px patch upscaled to 224 px" in note  # 224 x 1.15, half of its side
    assert "data.cache_oversize = 2 keeps it at full detail" in note and "3.0x" in note


@pytest.mark.parametrize("sets", [
    ("data.cache=true", "augment.crop='random_resized'", "augment.scale_min=0.25", "data.cache_oversize=2.0"),
    ("data.cache=true", "augment.crop='random_resized'", "augment.scale_min=0.8"),  # 1/sqrt(0.8) = 1.118 < 1.15
    ("data.cache=true", "augment.crop='resize'"),  # the whole image: no crop to keep sharp
    ("data.cache=false", "augment.crop='random_resized'", "augment.scale_min=0.25"),  # decoded from the file each time
])
def test_no_warning_when_every_crop_keeps_full_detail(tmp_path: Path, plugins: Plugins, sets: tuple[str, ...]) -> None:
    assert _warning(tmp_path, plugins, *sets) is None


@pytest.mark.parametrize("recipe", ["finetune.toml", "lite0_finetune.toml"])
def test_the_shipped_photo_recipes_cache_enough(plugins: Plugins, recipe: str) -> None:
    assert crop_detail_warning(load_recipe(RECIPES / recipe, plugins=plugins)) is None


@pytest.mark.slow
def test_a_run_prints_the_warning(tmp_path: Path) -> None:
    comp = make_kaggle_competition(tmp_path / "comp")
    (tmp_path / "r.toml").write_text(TINY.format(root=comp))
    res = cli("run", "r.toml", "--out", "run", "--set", "data.extension='.png'", "--set", "data.cache=true",
              "--set", "augment.crop='random_resized'", "--set", "train.epochs=1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "harness: warning: data.cache_oversize = 1.15 caches 18 px shorter sides" in res.stderr
