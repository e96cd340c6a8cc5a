"""`data.extension`: empty (the default) finds the images' suffix from the files of the first ids,
per folder; a given one is strict, and when the files disagree the error names the suffix found and
the `--set` that fixes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.config.schema import DataConfig
from harness.data.competition import load_competition
from harness.errors import HarnessError
from harness.testing import make_kaggle_competition


def test_default_is_detect() -> None:
    assert DataConfig().extension == ""


def test_jpg_competition_loads_with_the_defaults(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c", ext=".jpg")
    comp = load_competition(DataConfig(root=str(root)))
    assert len(comp.train) == 30 and all(p.suffix == ".jpg" for p in comp.train.paths)
    assert comp.test is not None and all(p.suffix == ".jpg" for p in comp.test.paths)


def test_given_extension_is_strict_and_names_the_fix(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c", ext=".jpg")
    with pytest.raises(HarnessError, match=r"missing image file.*'\.jpg' files for these ids: "
                                           r"--set data\.extension=\.jpg"):
        load_competition(DataConfig(root=str(root), extension=".png"))


def test_ids_that_are_file_names(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c")
    for name in ("train.csv", "sample_submission.csv"):
        df = pd.read_csv(root / name)
        df["id"] = df["id"] + ".png"
        df.to_csv(root / name, index=False)
    comp = load_competition(DataConfig(root=str(root)))
    assert comp.train.paths[0].name == comp.train.ids[0] and comp.train.ids[0].endswith(".png")
    with pytest.raises(HarnessError, match=r"whole-name files for these ids: --set data\.extension=''"):
        load_competition(DataConfig(root=str(root), extension=".png"))


def test_each_folder_its_own_and_upper_case(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c")
    for f in (root / "test").iterdir():
        f.rename(f.with_suffix(".JPG"))
    comp = load_competition(DataConfig(root=str(root)))
    assert comp.train.paths[0].suffix == ".png"
    assert comp.test is not None and comp.test.paths[0].suffix == ".JPG"


def test_no_file_for_the_ids(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c")
    df = pd.read_csv(root / "train.csv")
    df["id"] = "x" + df["id"]
    df.to_csv(root / "train.csv", index=False)
    with pytest.raises(HarnessError, match=r"train: no image file for the first ids \('xtr0_000'.*data\.id_column"):
        load_competition(DataConfig(root=str(root)))


def test_a_few_files_missing_is_still_an_error(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c", ext=".jpg")
    (root / "train" / "tr2_009.jpg").unlink()
    with pytest.raises(HarnessError, match=r"train: missing image file\(s\) .*tr2_009\.jpg$"):
        load_competition(DataConfig(root=str(root)))


def test_data_check_cli_on_jpg(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "c", ext=".jpg")
    res = subprocess.run([sys.executable, "-m", "harness", "data", "check", str(root)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "train: 30 images, 0 unreadable" in res.stdout
