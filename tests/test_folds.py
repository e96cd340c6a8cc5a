"""Folds depend on cv.seed alone; a folds file is reused exactly; group K-fold keeps groups
together; data.fraction is a stratified, seeded subset on which the folds are made."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.config.recipe import load_recipe
from harness.data.competition import load_competition
from harness.data.folds import assign_folds, folds_hash, fraction_subset, make_folds, read_folds
from harness.errors import HarnessError

from .conftest import TINY


def _recipe(tmp_path: Path, root: Path, *overrides: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.toml"
    path.write_text(TINY.format(root=root))
    return load_recipe(path, overrides)


def test_folds_ignore_train_seed_model_and_size(tmp_path: Path, kaggle_comp: Path) -> None:
    a = _recipe(tmp_path, kaggle_comp, "train.seed=1")
    b = _recipe(tmp_path, kaggle_comp, "train.seed=7", "model.name=resnet18", "data.image_size=32")
    c = _recipe(tmp_path, kaggle_comp, "cv.seed=3")
    comp = load_competition(a.data)
    _, fa, source = assign_folds(comp, a)
    _, fb, _ = assign_folds(comp, b)
    _, fc, _ = assign_folds(comp, c)
    assert source == "stratified" and np.array_equal(fa, fb) and not np.array_equal(fa, fc)
    assert folds_hash(comp.train.ids, fa) == folds_hash(comp.train.ids, fb) != folds_hash(comp.train.ids, fc)


def test_folds_are_stratified() -> None:
    labels = np.repeat(np.arange(3), [30, 20, 10])
    folds = make_folds(labels, 5, seed=0)
    for k in range(5):
        assert np.bincount(labels[folds == k], minlength=3).tolist() == [6, 4, 2]


def test_folds_file_is_reused_exactly(tmp_path: Path, kaggle_comp: Path) -> None:
    comp = load_competition(_recipe(tmp_path, kaggle_comp).data)
    wanted = np.arange(len(comp.train)) % 2
    pd.DataFrame({"id": list(reversed(comp.train.ids)), "fold": list(reversed(wanted.tolist()))}).to_csv(
        tmp_path / "folds.csv", index=False)
    recipe = _recipe(tmp_path, kaggle_comp, f"cv.folds_file='{tmp_path / 'folds.csv'}'", "cv.seed=99")
    _, folds, source = assign_folds(comp, recipe)
    assert np.array_equal(folds, wanted) and source.startswith("file:")


@pytest.mark.parametrize("table, message", [
    ({"id": ["x"], "fold": [0]}, "has no fold for 30 training id(s)"),
    ({"name": ["x"], "fold": [0]}, "needs the columns 'id' and 'fold'"),
])
def test_folds_file_errors(tmp_path: Path, table: dict, message: str) -> None:
    pd.DataFrame(table).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(HarnessError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_folds(tmp_path / "f.csv", [f"i{n}" for n in range(30)], 2)


def test_folds_file_must_use_every_fold(tmp_path: Path) -> None:
    pd.DataFrame({"id": ["a", "b", "c"], "fold": [0, 0, 2]}).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(HarnessError, match=r"uses folds \[0, 2\], but cv.folds=3 needs 0..2"):
        read_folds(tmp_path / "f.csv", ["a", "b", "c"], 3)


def test_group_kfold_keeps_each_group_in_one_fold_and_stratifies(tmp_path: Path, kaggle_comp: Path) -> None:
    train = pd.read_csv(kaggle_comp / "train.csv")
    # two photos of each object, ten photos a class: five objects of each class
    train["object"] = [f"{label}-{n // 2}" for n, label in enumerate(train.label)]
    train.to_csv(kaggle_comp / "train.csv", index=False)
    recipe = _recipe(tmp_path, kaggle_comp, "cv.group_column='object'")
    comp = load_competition(recipe.data, recipe.cv.group_column)
    _, folds, source = assign_folds(comp, recipe)
    assert source == "group:object"
    by_group = pd.DataFrame({"g": comp.train.groups, "f": folds}).groupby("g").f.nunique()
    assert (by_group == 1).all()
    assert comp.train.labels is not None
    for k in range(2):  # five pairs a class over two folds: stratified means 2 or 3 pairs of each class a fold
        assert set(np.bincount(comp.train.labels[folds == k], minlength=3).tolist()) <= {4, 6}


def test_group_column_needs_kaggle_layout(tmp_path: Path, imagefolder_comp: Path) -> None:
    recipe = _recipe(tmp_path, imagefolder_comp, "cv.group_column='object'")
    with pytest.raises(HarnessError, match="needs the Kaggle layout"):
        load_competition(recipe.data, recipe.cv.group_column)


def test_fraction_is_stratified_seeded_and_nested_in_nothing_else() -> None:
    labels = np.repeat(np.arange(4), [100, 50, 20, 3])
    keep = fraction_subset(labels, 0.1, seed=5)
    assert np.bincount(labels[keep], minlength=4).tolist() == [10, 5, 2, 1]  # every class keeps one
    assert np.array_equal(keep, fraction_subset(labels, 0.1, seed=5))
    assert not np.array_equal(keep, fraction_subset(labels, 0.1, seed=6))
    assert np.array_equal(fraction_subset(labels, 1.0, seed=5), np.arange(len(labels)))


def test_fraction_subset_then_folds(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = _recipe(tmp_path, kaggle_comp, "data.fraction=0.5")
    comp, folds, _ = assign_folds(load_competition(recipe.data), recipe)
    assert len(comp.train) == 15 and len(folds) == 15 and set(folds.tolist()) == {0, 1}
    full = _recipe(tmp_path, kaggle_comp)
    assert len(assign_folds(load_competition(full.data), replace(full))[0].train) == 30


def test_fraction_out_of_range_is_a_config_error(tmp_path: Path, kaggle_comp: Path) -> None:
    with pytest.raises(HarnessError, match=r"data.fraction: must be in \(0, 1\]"):
        _recipe(tmp_path, kaggle_comp, "data.fraction=0.0")
