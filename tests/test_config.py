"""Recipes: typed, validated, extendable, overridable, and written back exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.recipe import load_recipe, parse_override, recipe_to_dict, write_recipe
from harness.errors import HarnessError


def _write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_and_types(tmp_path: Path) -> None:
    r = load_recipe(_write(tmp_path, "[train]\nlr = 1\nepochs = 3\n"))
    assert r.train.lr == 1.0 and isinstance(r.train.lr, float)
    assert r.train.epochs == 3 and r.cv.folds == 5 and r.loss.name == "cross_entropy"


def test_unknown_key_suggests_nearest(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"train\.epoch.*did you mean 'epochs'"):
        load_recipe(_write(tmp_path, "[train]\nepoch = 3\n"))


def test_plugin_option_typo_suggests(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"loss\.smoothin.*did you mean 'smoothing'"):
        load_recipe(_write(tmp_path, "[loss]\nname = 'cross_entropy'\nsmoothin = 0.1\n"))


def test_wrong_type_names_expected(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"train\.epochs: expected int, got 'ten'"):
        load_recipe(_write(tmp_path, "[train]\nepochs = 'ten'\n"))


def test_base_extends_and_child_wins(tmp_path: Path) -> None:
    _write(tmp_path, "[train]\nlr = 0.5\nepochs = 7\n", "base.toml")
    r = load_recipe(_write(tmp_path, "base = 'base.toml'\n[train]\nlr = 0.1\n"))
    assert (r.train.lr, r.train.epochs) == (0.1, 7)


def test_overrides_are_type_checked(tmp_path: Path) -> None:
    p = _write(tmp_path, "[train]\nlr = 0.5\n")
    r = load_recipe(p, ["train.lr=0.01", "model.name=resnet34", "model.pretrained=false"])
    assert (r.train.lr, r.model.name, r.model.pretrained) == (0.01, "resnet34", False)
    with pytest.raises(HarnessError, match=r"train\.batch_size: expected int"):
        load_recipe(p, ["train.batch_size=big"])
    assert parse_override("cv.only=[0, 2]") == (["cv", "only"], [0, 2])


def test_resolved_recipe_round_trips(tmp_path: Path) -> None:
    r = load_recipe(_write(tmp_path, "[loss]\nsmoothing = 0.1\n[tta]\nviews = ['identity', 'hflip']\n"))
    out = tmp_path / "resolved.toml"
    write_recipe(r, out)
    again = load_recipe(out)
    assert again == r
    assert recipe_to_dict(again)["loss"] == {"name": "cross_entropy", "smoothing": 0.1}


def test_range_checks(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"train\.lr: must be > 0"):
        load_recipe(_write(tmp_path, "[train]\nlr = -1.0\n"))
