"""`harness report`: the numbers behind the page as properties, and the page of a real tiny run
(written by `harness run` itself), without its images, of an ensemble, and in a headless browser."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from harness.report import SECTIONS, report_after_run
from harness.report.scores import calibration, confusion, precision_recall

from .conftest import cli as harness
from .conftest import train_tiny


def test_calibration_of_certain_right_and_certain_wrong_predictions() -> None:
    y = np.array([0, 1, 2, 0])
    right = np.eye(3)[y]
    assert calibration(y, right).ece == 0.0
    wrong = np.eye(3)[(y + 1) % 3]
    cal = calibration(y, wrong)
    assert cal.ece == 1.0 and cal.counts.sum() == 4 and cal.counts[-1] == 4


def test_calibration_bins_hold_their_mean_confidence() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=500)
    y = rng.integers(0, 4, 500)
    cal = calibration(y, probs, bins=10)
    conf = probs.max(1)
    filled = cal.counts > 0
    assert cal.counts.sum() == 500 and 0.0 <= cal.ece <= 1.0
    assert np.all(cal.confidence[filled] >= cal.edges[:-1][filled] - 1e-12)
    assert np.all(cal.confidence[filled] <= cal.edges[1:][filled] + 1e-12)
    assert np.isclose((cal.confidence[filled] * cal.counts[filled]).sum(), conf.sum())


def test_confusion_precision_recall() -> None:
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 1, 1])
    cm = confusion(y, pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    precision, recall, support = precision_recall(cm)
    assert precision[0] == 1.0 and np.isclose(precision[1], 0.5) and np.isnan(precision[2])
    assert np.isclose(recall[0], 2 / 3) and recall[1] == 1.0 and recall[2] == 0.0
    assert support.tolist() == [3, 2, 1]


def test_a_report_that_cannot_render_only_warns(tmp_path: Path) -> None:
    said: list[str] = []
    report_after_run(tmp_path, None, said.append)  # no run.json: nothing to report
    assert len(said) == 1 and "report.html not written" in said[0] and not (tmp_path / "report.html").exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-fold run with EMA weights and flip TTA; its report.html written by `harness run`."""
    root = tmp_path_factory.mktemp("report")
    return train_tiny(root, "tta.views=['identity','hflip']", "callbacks.ema.decay=0.9")


def _page(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for key in SECTIONS:
        assert f'<section id="{key}">' in text, key
    # self-contained: no script, no stylesheet link, no image or frame from anywhere else
    assert "<script" not in text and "<link" not in text and 'src="http' not in text and "<iframe" not in text
    return text


@pytest.mark.slow
def test_run_writes_its_report(tiny_run: Path) -> None:
    text = _page(tiny_run / "run" / "report.html")
    assert text.count('src="data:image/png;base64,') >= 3  # curves, confusion matrix, reliability
    curves = base64.b64encode((tiny_run / "run" / "learning_curve.png").read_bytes()).decode()
    assert f'src="data:image/png;base64,{curves}"' in text  # the run's own figure, drawn once
    assert "ema weights" in text and "OOF, no TTA" in text and "OOF, with TTA" in text
    assert 'src="data:image/jpeg;base64,' in text  # the mistakes' thumbnails
    for fact in ("train.csv", "torch", "timm", "data-wait fraction", "class_0", "(standard error)"):
        assert fact in text, fact


@pytest.mark.slow
def test_report_without_the_training_images_says_so(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run / "run", run)
    recipe = tomllib.loads((run / "recipe.toml").read_text())
    recipe["data"]["root"] = str(tmp_path / "gone")  # as if the competition folder had been deleted
    (run / "recipe.toml").write_text(tomli_w.dumps(recipe))
    res = harness("report", "run", "--out", "page.html", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = _page(tmp_path / "page.html")
    assert "image unavailable" in text and "could not be shown" in text
    assert 'src="data:image/jpeg' not in text


@pytest.mark.slow
def test_report_of_an_ensemble_folder(tiny_run: Path) -> None:
    res = harness("ensemble", "run", "--out", "ens", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    res = harness("report", "ens", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    text = _page(tiny_run / "ens" / "report.html")
    assert "ensemble report" in text and "no training history" in text and "correlation" in text
    assert str(tiny_run / "run") in text  # names its member, whose report has the curves


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium on PATH (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tiny_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,4000",
           (tiny_run / "run" / "report.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.is_file()
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (4000, 1280)
    assert pixels.std() > 20  # text, plots and thumbnails, not a blank page
    rows_drawn = (pixels < 200).any(axis=1).mean()
    assert rows_drawn > 0.3  # content runs down the page, not only a header
