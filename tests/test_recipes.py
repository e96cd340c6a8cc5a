"""Every shipped recipe loads: its sections and options validate against the installed plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.recipe import load_recipe
from harness.plugin_manager import Plugins, load_plugins

RECIPES = sorted((Path(__file__).parents[1] / "recipes").glob("*.toml"))


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins()


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads(path: Path, plugins: Plugins) -> None:
    recipe = load_recipe(path, plugins=plugins)
    assert recipe.tta.views and len(recipe.tta_options) == len(recipe.tta.views)


def test_the_baseline_has_every_trick_off(plugins: Plugins) -> None:
    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / "baseline.toml", plugins=plugins)
    assert recipe.batch_transforms == () and recipe.callbacks == ()
    assert recipe.tta.views == ("identity",)
    assert (recipe.scheduler.name, recipe.sampler.name) == ("constant", "instance")
    assert recipe.loss.options.smoothing == 0.0
