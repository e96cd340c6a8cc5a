"""`harness predict`: which images and how they are named, the clear errors, and a real tiny run
whose folder alone (the competition deleted) reproduces the run's own test predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.errors import HarnessError
from harness.metrics import softmax
from harness.outputs.manifest import IdSet, RunManifest
from harness.predict import check_readable, collect
from harness.predict.folds import chosen_folds, run_manifest

from .conftest import cli as harness
from .conftest import train_tiny


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)
    return path


def _manifest(kind: str = "run", folds: tuple[int, ...] = (0, 1)) -> RunManifest:
    return RunManifest(kind=kind, classes=("a", "b"), metric="accuracy", higher_is_better=True, id_column="id",
                       folds=2, folds_sha256="0" * 64, folds_source="stratified", cv_seed=0, fraction=1.0,
                       train=IdSet(4, "0" * 64), test=None, holdout=None, folds_trained=folds)


def test_ids_are_paths_relative_to_the_folder_given(tmp_path: Path) -> None:
    _png(tmp_path / "in" / "b.png")
    _png(tmp_path / "in" / "sub" / "a.jpg")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    single = _png(tmp_path / "one.png")
    split = collect([tmp_path / "in", single])
    assert split.ids == ("b.png", "sub/a.jpg", "one.png") and split.labels is None
    assert split.paths[1] == tmp_path / "in" / "sub" / "a.jpg"


def test_clear_errors_for_what_cannot_be_predicted(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="holds no image files"):
        collect([tmp_path / "empty"])
    with pytest.raises(HarnessError, match="no such file or folder"):
        collect([tmp_path / "missing"])
    _png(tmp_path / "x" / "same.png")
    _png(tmp_path / "y" / "same.png")
    with pytest.raises(HarnessError, match="same id 'same.png'"):
        collect([tmp_path / "x", tmp_path / "y"])
    (tmp_path / "x" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "x" / "empty.png").write_bytes(b"")
    with pytest.raises(HarnessError, match="2 of 3 image") as err:
        check_readable(collect([tmp_path / "x"]))
    assert "broken.jpg" in str(err.value) and "empty.png" in str(err.value) and "same.png" not in str(err.value)


def test_run_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no run.json"):
        run_manifest(tmp_path)
    _manifest("ensemble").write(tmp_path)
    with pytest.raises(HarnessError, match="ensemble folder, which holds predictions but no models"):
        run_manifest(tmp_path)
    assert chosen_folds(_manifest(), None) == (0, 1) and chosen_folds(_manifest(), [1]) == (1,)
    with pytest.raises(HarnessError, match=r"fold\(s\) \[3\] were not trained"):
        chosen_folds(_manifest(), [3])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run with flip TTA; then the competition is gone, its test images kept apart."""
    root = tmp_path_factory.mktemp("predict")
    train_tiny(root, "tta.views=['identity','hflip']")
    comp = root / "comp"
    shutil.copytree(comp / "test", root / "new" / "batch1")
    shutil.rmtree(comp)  # no training data from here on
    return root


def _run_test_logits(run: Path, fold: int) -> tuple[list[str], dict[str, np.ndarray]]:
    saved = np.load(run / f"fold{fold}" / "logits.npz")
    return [f"batch1/{i}.png" for i in saved["test_ids"]], {v: saved[f"test/{v}"] for v in ("identity", "hflip")}


@pytest.mark.slow
def test_predict_reproduces_the_runs_test_predictions(tiny_run: Path) -> None:
    res = harness("predict", "run", "new", "--out", "preds.csv", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    pred = pd.read_csv(tiny_run / "preds.csv")
    assert list(pred.columns) == ["id", "label", "class_0", "class_1", "class_2"]
    folds = []
    for k in (0, 1):
        ids, logits = _run_test_logits(tiny_run / "run", k)
        folds.append(pd.DataFrame((softmax(logits["identity"]) + softmax(logits["hflip"])) / 2, index=ids))
    expected = (folds[0] + folds[1]) / 2
    probs = pred.set_index("id")[["class_0", "class_1", "class_2"]]
    assert sorted(probs.index) == sorted(expected.index)
    np.testing.assert_allclose(probs.loc[expected.index].to_numpy(), expected.to_numpy(), atol=1e-5)
    assert (pred.label == probs.idxmax(axis=1).to_numpy()).all()


@pytest.mark.slow
def test_predict_one_fold_one_view(tiny_run: Path) -> None:
    res = harness("predict", "run", "new/batch1", "--folds", "1", "--tta", "identity", "--out", "one.csv", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    pred = pd.read_csv(tiny_run / "one.csv").set_index("id")
    ids, logits = _run_test_logits(tiny_run / "run", 1)
    expected = softmax(logits["identity"])
    np.testing.assert_allclose(pred.loc[[i.removeprefix("batch1/") for i in ids], ["class_0", "class_1", "class_2"]],
                               expected, atol=1e-5)


@pytest.mark.slow
def test_predict_cli_errors(tiny_run: Path) -> None:
    (tiny_run / "empty").mkdir(exist_ok=True)
    res = harness("predict", "run", "empty", "--out", "x.csv", cwd=tiny_run)
    assert res.returncode == 2 and "holds no image files" in res.stderr and "Traceback" not in res.stderr
    bad = tiny_run / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "truncated.png").write_bytes((tiny_run / "new" / "batch1" / "te000.png").read_bytes()[:40])
    res = harness("predict", "run", "bad", "--out", "x.csv", cwd=tiny_run)
    assert res.returncode == 2 and "truncated.png" in res.stderr
    res = harness("predict", "new", "new", "--out", "x.csv", cwd=tiny_run)
    assert res.returncode == 2 and "no run.json" in res.stderr
    assert not (tiny_run / "x.csv").exists()


@pytest.mark.slow
def test_predict_of_an_array_run_reads_an_array_and_matches_the_run(tmp_path: Path) -> None:
    """A run trained from an image array (data.array) predicts new images through an array of
    their own, read by whole batches as the run read its test set: the same probabilities."""
    train_tiny(tmp_path, "tta.views=['identity','hflip']", "data.array=true", "augment.crop='resize'",
               "augment.hflip=0.0", "data.num_workers=0", f"data.cache_dir='{tmp_path / 'arrays'}'")
    shutil.copytree(tmp_path / "comp" / "test", tmp_path / "new" / "batch1")
    built = set((tmp_path / "arrays").glob("*.npy"))
    res = harness("predict", "run", "new", "--out", "preds.csv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(set((tmp_path / "arrays").glob("*.npy")) - built) == 1  # the new images' own array
    probs = pd.read_csv(tmp_path / "preds.csv").set_index("id")[["class_0", "class_1", "class_2"]]
    folds = []
    for k in (0, 1):
        ids, logits = _run_test_logits(tmp_path / "run", k)
        folds.append(pd.DataFrame((softmax(logits["identity"]) + softmax(logits["hflip"])) / 2, index=ids))
    expected = (folds[0] + folds[1]) / 2
    np.testing.assert_allclose(probs.loc[expected.index].to_numpy(), expected.to_numpy(), atol=1e-6)
