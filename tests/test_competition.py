"""Competition folders: both layouts, and a clear error for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.config.schema import DataConfig
from harness.data.competition import check_folds, load_competition
from harness.data.digits import write_digits
from harness.errors import HarnessError


def test_kaggle_layout(kaggle_comp: Path) -> None:
    comp = load_competition(DataConfig(root=str(kaggle_comp)))
    assert comp.layout == "kaggle" and comp.classes == ("class_0", "class_1", "class_2")
    assert len(comp.train) == 30 and comp.test is not None and len(comp.test) == 9
    assert comp.sample_submission is not None


def test_imagefolder_with_holdout(imagefolder_comp: Path) -> None:
    comp = load_competition(DataConfig(root=str(imagefolder_comp)))
    assert comp.layout == "imagefolder" and comp.holdout is not None
    assert len(comp.train) == 16 and len(comp.holdout) == 8
    assert comp.train.ids[0].startswith("train/")


def test_missing_image_named(kaggle_comp: Path) -> None:
    (kaggle_comp / "train" / "tr1_003.png").unlink()
    with pytest.raises(HarnessError, match="tr1_003.png"):
        load_competition(DataConfig(root=str(kaggle_comp)))


def test_label_not_in_class_list(kaggle_comp: Path) -> None:
    with pytest.raises(HarnessError, match=r"label\(s\) \['class_2'\] not in the class list"):
        load_competition(DataConfig(root=str(kaggle_comp), classes=("class_0", "class_1")))


def test_class_smaller_than_folds(kaggle_comp: Path) -> None:
    comp = load_competition(DataConfig(root=str(kaggle_comp)))
    with pytest.raises(HarnessError, match=r"cv.folds=11 but class 'class_0' has only 10"):
        check_folds(comp, 11)


def test_missing_root_and_csv(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="is not a folder"):
        load_competition(DataConfig(root=str(tmp_path / "nope")))
    with pytest.raises(HarnessError, match="missing column"):
        (tmp_path / "train.csv").write_text("image,label\na,b\n")
        load_competition(DataConfig(root=str(tmp_path)))


def test_configurable_columns_and_extension(kaggle_comp: Path) -> None:
    df = pd.read_csv(kaggle_comp / "train.csv").rename(columns={"id": "image_id", "label": "y"})
    df.to_csv(kaggle_comp / "labels.csv", index=False)
    sub = pd.read_csv(kaggle_comp / "sample_submission.csv").rename(columns={"id": "image_id"})
    sub.to_csv(kaggle_comp / "sample_submission.csv", index=False)
    cfg = DataConfig(root=str(kaggle_comp), train_csv="labels.csv", id_column="image_id", label_column="y")
    assert len(load_competition(cfg).train) == 30


def test_digits_competition(tmp_path: Path) -> None:
    counts = write_digits(tmp_path)
    train = pd.read_csv(tmp_path / "train.csv")
    solution = pd.read_csv(tmp_path / "private" / "solution.csv")
    sample = pd.read_csv(tmp_path / "sample_submission.csv")
    assert counts == {"train": 1437, "test": 360, "classes": 10}
    assert set(train.id).isdisjoint(solution.id) and list(sample.id) == list(solution.id)
    assert set(solution.Usage) == {"Public", "Private"}
    # stratified: every class is 80/20 within one image
    full = pd.concat([train.label, solution.label]).value_counts()
    assert ((solution.label.value_counts() - 0.2 * full).abs() <= 1).all()
    assert not (tmp_path / "solution.csv").exists()  # the key is kept apart from competitor files
