"""The gate (`harness gate`, `harness predict --reject`, `data.outliers`): its threshold keeps the
asked share of OOF in-domain images, its scores are the published formulas, its bad input is one
clear line, and a real tiny main run with a real gate run turns away the same images in the gated
submission as `harness predict --reject` does, never showing them to the main model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.special import logsumexp
from scipy.special import softmax as sp_softmax

from harness.cli import main
from harness.config.schema import DataConfig
from harness.data.competition import load_competition
from harness.data.outliers import GATE_CLASSES, ID_PREFIX
from harness.errors import HarnessError
from harness.gate.attach import read_gate, threshold_for_recall
from harness.gate.scores import energy, fold_mean, known_probability, max_softmax
from harness.testing import make_imagefolder, make_kaggle_competition

from .conftest import TINY
from .test_ensemble import TEST_IDS, Y, logits, write_run


def _noise_pngs(folder: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = folder / f"set{i % 2}" / f"n{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
    return folder


@pytest.mark.parametrize("recall", [0.5, 0.9, 0.95, 0.999, 1.0])
def test_threshold_is_the_highest_that_keeps_the_recall(recall: float) -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(size=997), [0.25] * 3])  # ties too
    t = threshold_for_recall(scores, recall)
    assert np.mean(scores >= t) >= recall
    higher = scores[scores > t]
    if len(higher):
        assert np.mean(scores >= higher.min()) < recall


def test_threshold_refuses_a_recall_outside_0_1() -> None:
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(HarnessError, match="--recall must be in"):
            threshold_for_recall(np.ones(4), bad)


def test_scores_are_the_published_formulas_pooled_over_views_then_folds() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 3, 5, 4)) * 3  # (folds, views, n, C)
    one = z[0]
    assert np.allclose(max_softmax(one, "abcd"), sp_softmax(one, axis=2).mean(0).max(1))
    assert np.allclose(energy(one, "abcd"), logsumexp(one.mean(0), axis=1))
    assert np.allclose(fold_mean(energy, z, "abcd"), (logsumexp(z[0].mean(0), 1) + logsumexp(z[1].mean(0), 1)) / 2)
    gate = rng.normal(size=(3, 5, 2))
    assert np.allclose(known_probability(gate, GATE_CLASSES), sp_softmax(gate, axis=2).mean(0)[:, 0])
    with pytest.raises(HarnessError, match="a gate run has the classes"):
        known_probability(gate, ("cat", "dog"))


def test_outliers_make_a_known_unknown_competition(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "comp")
    other = _noise_pngs(tmp_path / "other", 5)
    plain = load_competition(DataConfig(root=str(root)))
    comp = load_competition(DataConfig(root=str(root), outliers=str(other)))
    assert comp.classes == GATE_CLASSES
    assert comp.train.ids[:len(plain.train)] == plain.train.ids
    assert comp.train.ids[len(plain.train):] == tuple(f"{ID_PREFIX}set{i % 2}/n{i}.png" for i in (0, 2, 4, 1, 3))
    assert comp.train.labels.tolist() == [0] * len(plain.train) + [1] * 5
    assert comp.holdout is not None and plain.holdout is not None
    assert comp.holdout.ids == plain.holdout.ids and not comp.holdout.labels.any()  # in-domain: all known
    kaggle = make_kaggle_competition(tmp_path / "kaggle")
    comp = load_competition(DataConfig(root=str(kaggle), outliers=str(other)))
    assert comp.test is not None and comp.sample_submission is None and len(comp.test) == 9


def test_bad_outlier_folders_are_one_clear_line(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "comp")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    cases = {tmp_path / "missing": "is not a folder", tmp_path / "empty": "holds no image files",
             root / "train": "holds 16 of the competition's own training images"}
    for folder, message in cases.items():
        with pytest.raises(HarnessError, match=message) as err:
            load_competition(DataConfig(root=str(root), outliers=str(folder)))
        assert str(folder) in str(err.value) and "\n" not in str(err.value)


def _scored_run(folder: Path) -> Path:
    """A synthetic finished run whose test predictions are 12 images with confident logits."""
    run = write_run(folder, {"identity": logits(Y, 1.6, 1), "hflip": logits(Y, 1.6, 2)}, seed=1)
    pd.DataFrame({"id": TEST_IDS, "label": "a"}).to_csv(run / "submission.csv", index=False)
    return run


@pytest.mark.parametrize("by", ["max_softmax", "energy"])
def test_gate_keeps_the_oof_recall_and_labels_the_submission(tmp_path: Path, by: str) -> None:
    run = _scored_run(tmp_path / "A")
    assert main(["gate", str(run), "--by", by, "--recall", "0.8", "--unknown-label", "other"]) == 0
    gate = read_gate(run)
    assert gate.by == by and gate.run == "" and gate.unknown_label == "other" and gate.oof_images == len(Y)
    assert 0.8 <= gate.oof_recall < 0.8 + 2 / len(Y)
    fn = {"max_softmax": max_softmax, "energy": energy}[by]
    expected = []
    for k in range(3):  # the test scores: each fold's views pooled, the folds' scores averaged
        with np.load(run / f"fold{k}" / "logits.npz") as npz:
            expected.append(fn(np.stack([npz["test/identity"], npz["test/hflip"]]), "abc"))
    turned = np.mean(expected, axis=0) < gate.threshold
    sub = pd.read_csv(run / "submission_gated.csv")
    assert (sub["label"] == "other").tolist() == turned.tolist()
    assert (sub["label"][~turned] == "a").all() and (run / "gate.png").stat().st_size > 0


def test_gate_refuses_bad_input_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _scored_run(tmp_path / "A")
    cases = [(["--by", "maxsoftmax"], "did you mean 'max_softmax'?"),
             (["--by", "energy", "--recall", "0"], "--recall must be in (0, 1]"),
             (["--by", "energy", "--unknown-label", "b"], "'b' is one of the run's classes"),
             (["--by", str(_scored_run(tmp_path / "B"))], "a gate run has the classes ['known', 'unknown']")]
    for args, message in cases:
        assert main(["gate", str(run), *args]) == 2
        assert message in capsys.readouterr().err
    assert not (run / "gate.json").exists()
    assert main(["predict", str(run), str(tmp_path), "--reject", "--out", str(tmp_path / "p.csv")]) == 2
    assert "has no gate (gate.json): attach one first" in capsys.readouterr().err


@pytest.mark.slow
def test_a_gate_run_turns_away_the_same_images_in_the_submission_and_in_predict(tmp_path: Path) -> None:
    comp = make_kaggle_competition(tmp_path / "comp")
    other = _noise_pngs(tmp_path / "other", 12)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=comp))
    base = [str(recipe), "--set", "data.extension='.png'", "-q"]
    assert main(["run", *base, "--out", str(tmp_path / "main")]) == 0
    assert main(["run", *base, "--set", f"data.outliers='{other}'", "--out", str(tmp_path / "gate")]) == 0
    main_dir, out = tmp_path / "main", tmp_path / "p.csv"
    for by in (str(tmp_path / "gate"), "energy"):
        assert main(["gate", str(main_dir), "--by", by, "--recall", "0.5"]) == 0
        gate = json.loads((main_dir / "gate.json").read_text())
        assert main(["predict", str(main_dir), str(comp / "test"), "--reject", "--out", str(out), "-q"]) == 0
        pred = pd.read_csv(out)
        sub = pd.read_csv(main_dir / "submission_gated.csv")
        assert pred["id"].str.removesuffix(".png").tolist() == sub["id"].tolist()
        assert pred["label"].tolist() == sub["label"].tolist()
        turned = (pred["gate_score"] < gate["threshold"]).to_numpy()
        assert turned.any() and not turned.all() and (pred["label"][turned] == "unknown").all()
        if by == "energy":  # the main run predicted every image, to score it
            assert not pred[["class_0", "class_1", "class_2"]].isna().any().any()
        else:  # the gate run's turned-away images never reached the main model
            assert pred.loc[turned, ["class_0", "class_1", "class_2"]].isna().all().all()
            assert not pred.loc[~turned, ["class_0", "class_1", "class_2"]].isna().any().any()
    # An ensemble of gate runs holds no models to score new images: refused when attached, not at predict
    assert main(["ensemble", str(tmp_path / "gate"), "--out", str(tmp_path / "gate_ens")]) == 0
    assert main(["gate", str(main_dir), "--by", str(tmp_path / "gate_ens")]) == 2


def test_an_ensemble_is_gated_by_its_pooled_confidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _scored_run(tmp_path / "A"), _scored_run(tmp_path / "B")
    b_logits = np.load(b / "fold0" / "logits.npz")
    np.savez(b / "fold0" / "logits.npz", **{k: (v * 0.5 if k.startswith("oof/") else v) for k, v in b_logits.items()})
    ens = tmp_path / "ens"
    assert main(["ensemble", str(a), str(b), "--out", str(ens)]) == 0
    assert main(["gate", str(ens), "--by", "energy"]) == 2
    assert "gate it --by max_softmax" in capsys.readouterr().err
    assert main(["gate", str(ens), "--by", "max_softmax", "--recall", "0.9"]) == 0
    gate = read_gate(ens)
    assert gate.oof_recall >= 0.9 and (ens / "submission_gated.csv").is_file()
