"""Competitions from an ImageFolder and from a Kaggle-style folder, and their definitions."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.data.kaggle_tables import usage_split
from harness.errors import HarnessError
from harness.leaderboard.competition import Made, Options, new_competition
from harness.leaderboard.registry import SHIPPED, read_definition, sha256_file
from harness.testing import make_imagefolder, make_kaggle_competition
from tests.conftest import ROOT, SHARED

CURATED = ROOT / "leaderboard"  # the repository's curated board: rows only; the definitions are package data


def _new(tmp: Path, src: Path, out: Path | None = None, **opts: Any) -> Made:
    return new_competition("comp", src, out, tmp / "board", Options(**opts), "harness competition new comp")


def test_imagefolder_round_trips(tmp_path: Path) -> None:
    src = make_imagefolder(tmp_path / "src", classes=3, per_class=5, val_per_class=7)
    out = tmp_path / "comp"
    made = _new(tmp_path, src, out)
    defn = made.definition
    train = pd.read_csv(out / "train.csv", dtype=str)
    sample = pd.read_csv(out / "sample_submission.csv", dtype=str)
    key = pd.read_csv(out / "private" / "solution.csv", dtype=str)
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(f"{i}.jpg" for i in train["id"])
    assert sorted(p.name for p in (out / "test").iterdir()) == sorted(f"{i}.jpg" for i in sample["id"])
    assert list(sample["id"]) == list(key["id"]) and set(sample["label"]) == {"class_0"}
    assert set(train["id"]).isdisjoint(key["id"]) and len(train) == 15 and len(key) == 21
    assert all(len(i) == 4 and i.isdigit() for i in [*train["id"], *key["id"]])  # opaque ids
    counts = key.groupby(["label", "Usage"]).size().unstack()
    assert (counts["Public"] == 4).all() and (counts["Private"] == 3).all()  # 7 per class: 4 Public, rounded up
    assert defn.classes == ("class_0", "class_1", "class_2") and defn.extension == ".jpg"
    assert defn.answer_key_sha256 == sha256_file(out / "private" / "solution.csv")
    assert read_definition(defn.path) == defn
    # image bytes are kept: every test image is one of the val/ files
    originals = {p.read_bytes() for p in (src / "val").rglob("*.jpg")}
    assert all(p.read_bytes() in originals for p in (out / "test").iterdir())
    # nothing a competitor reads holds the key: no class in a test file name, no Usage in the sample
    assert not any(c in p.name for p in (out / "test").iterdir() for c in defn.classes)
    assert "Usage" not in (out / "sample_submission.csv").read_text()


def test_conversion_is_deterministic(tmp_path: Path) -> None:
    src = make_imagefolder(tmp_path / "src")
    for name in ("a", "b"):
        new_competition(name, src, tmp_path / name, tmp_path / "board", Options(seed=3), "test")
    for f in ("train.csv", "sample_submission.csv", "private/solution.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_probability_metric_makes_a_probability_competition(tmp_path: Path) -> None:
    src = make_imagefolder(tmp_path / "src")
    defn = _new(tmp_path, src, tmp_path / "comp", metric="log_loss").definition
    sample = pd.read_csv(tmp_path / "comp" / "sample_submission.csv")
    assert defn.kind == "probability" and list(sample.columns) == ["id", "class_0", "class_1"]
    assert (sample[["class_0", "class_1"]] == 0.5).all().all()
    with pytest.raises(HarnessError, match="log_loss needs probabilities"):
        new_competition("c2", src, tmp_path / "c2", tmp_path / "board", Options(metric="log_loss", kind="label"), "t")
    assert not (tmp_path / "c2").exists()  # refused before anything is written


def test_kaggle_folder_is_registered_as_it_is(tmp_path: Path) -> None:
    src = make_kaggle_competition(tmp_path / "kaggle")
    defn = _new(tmp_path, src).definition
    assert defn.kind == "label" and defn.classes == ("class_0", "class_1", "class_2")
    assert defn.answer_key_path.resolve() == (src / "private" / "solution.csv").resolve()
    with pytest.raises(HarnessError, match="already defines"):
        _new(tmp_path, src)
    assert _new(tmp_path, src, force=True).written


def test_refusals(tmp_path: Path) -> None:
    src = make_imagefolder(tmp_path / "src")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(HarnessError, match="not empty"):
        _new(tmp_path, src, tmp_path / "full")
    with pytest.raises(HarnessError, match="neither a labelled ImageFolder"):
        _new(tmp_path, tmp_path / "full")
    with pytest.raises(HarnessError, match="competition name"):
        new_competition("../evil", src, None, tmp_path / "board", Options(), "t")


def test_usage_split_is_stratified_and_seeded() -> None:
    ids = [f"{i:03d}" for i in range(40)]
    labels = ["a"] * 30 + ["b"] * 10
    usage = usage_split(ids, labels, seed=1)
    assert list(usage[:30]).count("Public") == 15 and list(usage[30:]).count("Public") == 5
    assert list(usage) == list(usage_split(ids, labels, seed=1))
    assert list(usage) != list(usage_split(ids, labels, seed=2))


def test_definition_errors(tmp_path: Path) -> None:
    path = tmp_path / "x" / "competition.toml"
    path.parent.mkdir()
    path.write_text('metrc = "accuracy"\n')
    with pytest.raises(HarnessError, match="unknown key 'metrc'; did you mean 'metric'"):
        read_definition(path)
    path.write_text('metric = "accuracy"\n')
    with pytest.raises(HarnessError, match="missing key"):
        read_definition(path)


def test_shipped_digits_definition_matches_write_digits(tmp_path: Path) -> None:
    from harness.data.digits import write_digits

    write_digits(tmp_path / "digits")
    shipped = tomllib.loads((SHIPPED / "digits" / "competition.toml").read_text())
    assert sha256_file(tmp_path / "digits" / "private" / "solution.csv") == shipped["answer_key_sha256"]
    defn = _new(tmp_path, tmp_path / "digits").definition
    assert defn.classes == tuple(shipped["classes"]) and defn.kind == shipped["kind"]
    key = pd.read_csv(tmp_path / "digits" / "private" / "solution.csv")
    assert set(key["Usage"]) == {"Public", "Private"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hymenoptera", "cifar10"])
def test_shipped_photo_definitions_match_their_command(tmp_path: Path, name: str) -> None:
    src = SHARED / "data" / name
    if not src.is_dir():
        pytest.skip(f"no {src}")
    defn = _new(tmp_path, src, tmp_path / f"{name}-comp", link=True).definition
    shipped = read_definition(SHIPPED / name / "competition.toml")
    assert (defn.answer_key_sha256, defn.classes, defn.extension) == (
        shipped.answer_key_sha256, shipped.classes, shipped.extension)


def test_curated_rows_are_readable_and_within_the_daily_limit() -> None:
    """Every shipped leaderboard.csv parses with the current columns, names the curated run folder
    it came from, scores within [0, 1], and keeps the competition's own daily limit."""
    from collections import Counter

    from harness.leaderboard.board import read_rows

    boards = sorted(CURATED.glob("*/leaderboard.csv"))
    assert boards, "leaderboard/ holds curated rows"
    for path in boards:
        defn = read_definition(SHIPPED / path.parent.name / "competition.toml")
        rows = read_rows(path)
        assert rows, path
        for row in rows:
            assert row.message and row.private_score is not None and 0.0 <= row.private_score <= 1.0, row
            if row.external:  # a reference row: where its score is published
                assert row.source and row.cv_score is None, row
                continue
            assert row.source.startswith(f"runs/curated/{defn.name}/"), row
            assert row.public_score is not None and 0.0 <= row.public_score <= 1.0, row
        per_day = Counter(row.time[:10] for row in rows if not row.external)
        assert max(per_day.values()) <= defn.daily_limit, (path, per_day)
