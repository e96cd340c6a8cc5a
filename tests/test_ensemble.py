"""`harness ensemble` on small synthetic run folders, written the way `harness run` writes them
(run.json through `RunManifest`, folds.csv, oof.csv, fold{k}/logits.npz), through the real CLI
entry point in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.data.folds import folds_hash
from harness.ensemble import load_pool
from harness.ensemble.pipeline import ROW_PARTS, row_parts
from harness.ensemble.report import table_rows
from harness.errors import HarnessError
from harness.metrics import get_metric, score, softmax
from harness.outputs.manifest import RunManifest, id_set, read_manifest

CLASSES = ("a", "b", "c")
N, K, TEST, HOLDOUT = 150, 3, 12, 9
IDS = [f"s{i:03d}" for i in range(N)]
TEST_IDS = [f"t{i:03d}" for i in range(TEST)]
HOLDOUT_IDS = [f"h{i:03d}" for i in range(HOLDOUT)]
Y = np.random.default_rng(0).integers(0, 3, N)
HOLDOUT_Y = np.arange(HOLDOUT) % 3
FOLDS = np.arange(N) % K


def logits(y: np.ndarray, noise: float, seed: int, signal: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return signal * np.eye(3)[y] + noise * rng.normal(size=(len(y), 3))


def write_run(folder: Path, views: dict[str, np.ndarray], *, folds: np.ndarray = FOLDS, trained: tuple[int, ...] = (),
              holdout: bool = False, metric: str = "accuracy", seed: int = 0, root: Path | None = None) -> Path:
    """A finished run folder: `views` are OOF logits (N, C) per TTA view; test (and holdout)
    logits are made per fold and view from `seed`."""
    folder.mkdir(parents=True)
    trained = trained or tuple(range(K))
    spec = get_metric(metric)
    RunManifest(kind="run", classes=CLASSES, metric=metric, higher_is_better=spec.higher_is_better, id_column="id",
                folds=K, folds_sha256=folds_hash(IDS, folds), folds_source="stratified", cv_seed=0, fraction=1.0,
                train=id_set(IDS), test=None if holdout else id_set(TEST_IDS), holdout=id_set(HOLDOUT_IDS) if holdout else None,
                tta_views=tuple(views), folds_trained=trained).write(folder)
    pd.DataFrame({"id": IDS, "fold": folds}).to_csv(folder / "folds.csv", index=False)
    probs = np.mean([softmax(z) for z in views.values()], axis=0)
    oof = pd.DataFrame(probs, columns=list(CLASSES))
    oof.insert(0, "id", IDS)
    oof.insert(1, "label", [CLASSES[i] for i in Y])
    oof.insert(2, "fold", folds)
    oof[np.isin(folds, trained)].to_csv(folder / "oof.csv", index=False)
    set_name, set_ids = ("holdout", HOLDOUT_IDS) if holdout else ("test", TEST_IDS)
    set_y = HOLDOUT_Y if holdout else np.arange(TEST) % 3
    for k in trained:
        rows = folds == k
        arrays = {f"oof/{v}": z[rows] for v, z in views.items()} | {"oof_ids": np.array(IDS)[rows]}
        for j, v in enumerate(views):
            arrays[f"{set_name}/{v}"] = logits(set_y, 1.0, seed * 100 + k * 10 + j)
        arrays[f"{set_name}_ids"] = np.array(set_ids)
        (folder / f"fold{k}").mkdir()
        np.savez_compressed(folder / f"fold{k}" / "logits.npz", **arrays)
        (folder / f"fold{k}" / "result.json").write_text(json.dumps({"fold": k, "views": list(views)}))
    if holdout:
        table = pd.DataFrame({"id": HOLDOUT_IDS, "label": [CLASSES[i] for i in HOLDOUT_Y]})
        table.to_csv(folder / "holdout.csv", index=False)
    if root is not None:
        (folder / "recipe.toml").write_text(f'[data]\nroot = "{root}"\nsample_submission = "sample_submission.csv"\n')
    return folder


def ensemble(*args: str | Path) -> int:
    return main(["ensemble", *map(str, args)])


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two members whose errors differ (independent noise on the logits)."""
    return (write_run(tmp_path / "A", {"identity": logits(Y, 1.6, 1), "hflip": logits(Y, 1.6, 2)}, seed=1),
            write_run(tmp_path / "B", {"identity": logits(Y, 1.6, 3), "hflip": logits(Y, 1.6, 4)}, seed=2))


@pytest.mark.parametrize("method", ["mean", "hill_climb"])
def test_ensemble_of_differing_members_beats_the_best(tmp_path: Path, pair: tuple[Path, Path], method: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert ensemble(*pair, "--out", tmp_path / "ens", "--method", method) == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    best = max(m["oof_score"] for m in summary["members"])
    assert summary["scores"]["oof_in_sample"] >= best
    assert summary["best_member"]["oof_score"] == best
    out = capsys.readouterr().out
    assert "plain mean" in out and f"{method} nested" in out and "A " in out  # the plain-text table
    for name in ("run.json", "folds.csv", "oof.csv", "submission.csv", "test_probs.csv", "metrics.json",
                 "correlation.csv", "correlation.png", "fold0/logits.npz"):
        assert (tmp_path / "ens" / name).is_file(), name
    corr = pd.read_csv(tmp_path / "ens" / "correlation.csv", index_col=0)
    assert list(corr.index) == ["A", "B"] and np.allclose(np.diag(corr), 1.0) and abs(corr.iat[0, 1]) < 1
    sub = pd.read_csv(tmp_path / "ens" / "submission.csv")
    assert list(sub.columns) == ["id", "label"] and list(sub.id) == TEST_IDS


@pytest.mark.parametrize("method", ["mean", "geometric", "rank", "hill_climb", "slsqp"])
def test_every_method_writes_a_probability_table(tmp_path: Path, pair: tuple[Path, Path], method: str) -> None:
    assert ensemble(*pair, "--out", tmp_path / "ens", "--method", method) == 0
    weights = [m["weight"] for m in read_json(tmp_path / "ens" / "ensemble.json")["members"]]
    assert min(weights) >= 0 and sum(weights) == pytest.approx(1.0)
    for table in ("oof.csv", "test_probs.csv"):
        np.testing.assert_allclose(pd.read_csv(tmp_path / "ens" / table)[list(CLASSES)].sum(axis=1), 1.0)


def test_fitting_one_member_gives_it_back_without_a_warning(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    assert ensemble(pair[0], "--out", tmp_path / "ens", "--method", "hill_climb") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    assert summary["warnings"] == [] and summary["scores"]["oof_nested"] == summary["members"][0]["oof_score"]


def test_plain_mean_fits_nothing_and_nested_equals_in_sample(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    assert ensemble(*pair, "--out", tmp_path / "ens") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    sc = summary["scores"]
    assert sc["oof_nested"] == sc["oof_in_sample"] == sc["oof_plain_mean"] and summary["warnings"] == []
    assert summary["oof_written"] == "in_sample" and summary["objective"] is None
    oof = pd.read_csv(tmp_path / "ens" / "oof.csv")
    probs = np.mean([pd.read_csv(p / "oof.csv")[list(CLASSES)].to_numpy() for p in pair], axis=0)
    np.testing.assert_allclose(oof[list(CLASSES)].to_numpy(), probs, atol=1e-9)


def test_user_weights_give_the_weighted_mean(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    assert ensemble(*pair, "--out", tmp_path / "ens", "--weights", "1,3") == 0
    assert [m["weight"] for m in read_json(tmp_path / "ens" / "ensemble.json")["members"]] == [0.25, 0.75]
    oof = pd.read_csv(tmp_path / "ens" / "oof.csv")[list(CLASSES)].to_numpy()
    a, b = (pd.read_csv(p / "oof.csv")[list(CLASSES)].to_numpy() for p in pair)
    np.testing.assert_allclose(oof, 0.25 * a + 0.75 * b, atol=1e-9)


def test_nested_score_and_warning_when_fitted_weights_lose_to_the_mean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A is right and confident on fold 0 but mildly wrong elsewhere; B the reverse on folds 1 and 2.
    # Their mean is right everywhere. Fitted on folds 1 and 2, hill climbing keeps B alone, which
    # is wrong on fold 0: the in-sample score hides it, the nested score shows it.
    wrong = (Y + 1) % 3
    a = np.where((FOLDS == 0)[:, None], 3.0 * np.eye(3)[Y], 1.0 * np.eye(3)[wrong])
    b = np.where((FOLDS == 0)[:, None], 1.0 * np.eye(3)[wrong], 3.0 * np.eye(3)[Y])
    runs = write_run(tmp_path / "A", {"identity": a}), write_run(tmp_path / "B", {"identity": b})
    assert ensemble(*runs, "--out", tmp_path / "ens", "--method", "hill_climb") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    sc = summary["scores"]
    assert sc["oof_plain_mean"] == 1.0 and sc["oof_in_sample"] == 1.0
    assert sc["oof_nested"] == pytest.approx(1 - np.mean(FOLDS == 0))  # fold 0 lost
    assert len(summary["warnings"]) == 1 and "not better than the plain mean" in summary["warnings"][0]
    assert "warning: the fitted ensemble scores accuracy" in capsys.readouterr().err
    assert summary["nested_weights"]["0"] == [0.0, 1.0]
    assert summary["oof_written"] == "nested"
    oof = pd.read_csv(tmp_path / "ens" / "oof.csv")
    assert score(get_metric("accuracy"), Y, oof[list(CLASSES)].to_numpy()) == pytest.approx(sc["oof_nested"])


def test_tta_select_keeps_the_good_view_and_reports_each(tmp_path: Path) -> None:
    good, bad = logits(Y, 0.8, 1), logits(Y, 0.0, 2, signal=0.0) + np.random.default_rng(3).normal(size=(N, 3))
    run = write_run(tmp_path / "A", {"identity": good, "noise": bad})
    assert ensemble(run, "--out", tmp_path / "ens", "--tta", "select") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    member = summary["members"][0]
    assert member["view_weights"] == {"identity": 1.0, "noise": 0.0}
    assert member["view_scores"]["identity"] > member["view_scores"]["noise"]
    assert member["oof_score_scaled"] == pytest.approx(member["view_scores"]["identity"])
    assert summary["scores"]["oof_in_sample"] > member["oof_score"]  # all views averaged was worse
    assert ensemble(run, "--out", tmp_path / "listed", "--tta", "identity") == 0
    assert read_json(tmp_path / "listed" / "ensemble.json")["members"][0]["view_weights"]["noise"] == 0.0
    assert ensemble(run, "--out", tmp_path / "typo", "--tta", "idnetity") == 2


def test_temperature_fit_lowers_log_loss(tmp_path: Path) -> None:
    hot = 5.0 * logits(Y, 1.5, 1)
    run = write_run(tmp_path / "A", {"identity": hot}, metric="log_loss")
    assert ensemble(run, "--out", tmp_path / "ens", "--temperature", "fit") == 0
    member = read_json(tmp_path / "ens" / "ensemble.json")["members"][0]
    assert member["temperature"] > 1.5 and member["oof_score_scaled"] < member["oof_score"]


def test_an_ensemble_folder_feeds_another_ensemble(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    third = write_run(tmp_path / "C", {"identity": logits(Y, 1.6, 9)}, seed=3)
    assert ensemble(*pair, "--out", tmp_path / "ens", "--method", "slsqp") == 0
    manifest = read_manifest(tmp_path / "ens")
    assert manifest.kind == "ensemble" and len(manifest.members) == 2 and manifest.folds_trained == (0, 1, 2)
    assert manifest.folds_sha256 == read_manifest(pair[0]).folds_sha256
    assert ensemble(tmp_path / "ens", third, "--out", tmp_path / "ens2") == 0
    summary = read_json(tmp_path / "ens2" / "ensemble.json")
    first = summary["members"][0]
    assert first["kind"] == "ensemble" and list(first["view_scores"]) == ["ensemble"]
    written = read_json(tmp_path / "ens" / "metrics.json")["cv_score"]
    assert first["oof_score"] == pytest.approx(written)  # log-probabilities read back as the same probabilities
    assert pd.read_csv(tmp_path / "ens2" / "submission.csv").id.tolist() == TEST_IDS


def test_incompatible_folds_name_the_fold(tmp_path: Path, pair: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    moved = FOLDS.copy()
    moved[:9] = (moved[:9] + 1) % K
    other = write_run(tmp_path / "D", {"identity": logits(Y, 1.6, 5)}, folds=moved)
    assert ensemble(pair[0], other, "--out", tmp_path / "ens") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("harness: error: run D's fold ")
    assert "ids that run A puts in fold" in err
    assert not (tmp_path / "ens" / "run.json").exists()


def test_the_same_run_twice_is_an_error(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    with pytest.raises(HarnessError, match="given twice"):
        load_pool([pair[0], pair[0]])
    import shutil

    shutil.copytree(pair[0], tmp_path / "copy")
    with pytest.raises(HarnessError, match="identical OOF predictions"):
        load_pool([pair[0], tmp_path / "copy"])


def test_bad_arguments_are_one_line_errors(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    assert ensemble(*pair, "--out", tmp_path / "e1", "--method", "hill_climb", "--weights", "1,2") == 2
    assert ensemble(*pair, "--out", tmp_path / "e2", "--weights", "1,2,3") == 2
    assert ensemble(*pair, "--out", tmp_path / "e3", "--method", "hill_climbing") == 2
    assert ensemble(*pair, "--out", tmp_path / "e4", "--method", "hill_climb", "--option", "bags=0") == 2
    assert ensemble(*pair, "--out", pair[0]) == 2  # never overwrites a run
    assert ensemble(*pair, "--out", tmp_path / "e5", "--temperature", "hot") == 2


def test_members_with_fewer_folds_use_the_common_ones(tmp_path: Path, pair: tuple[Path, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    partial = write_run(tmp_path / "P", {"identity": logits(Y, 1.6, 6)}, trained=(0, 2))
    assert ensemble(pair[0], partial, "--out", tmp_path / "ens") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    assert summary["folds"] == [0, 2] and summary["oof_rows"] == int(np.isin(FOLDS, [0, 2]).sum())
    assert "run A also trained fold(s) [1]" in capsys.readouterr().err
    only = write_run(tmp_path / "Q", {"identity": logits(Y, 1.6, 7)}, trained=(1,))
    assert ensemble(partial, only, "--out", tmp_path / "none") == 2


def test_holdout_scores_and_sample_submission_order(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / n, {"identity": logits(Y, 1.6, s)}, holdout=True, seed=s) for n, s in (("A", 1), ("B", 2))]
    assert ensemble(*runs, "--out", tmp_path / "ens", "--method", "hill_climb") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    assert {"holdout", "holdout_plain_mean"} <= set(summary["scores"])
    assert all("holdout_score" in m for m in summary["members"])
    holdout = pd.read_csv(tmp_path / "ens" / "holdout.csv")
    assert list(holdout.columns) == ["id", "label", *CLASSES] and holdout.id.tolist() == HOLDOUT_IDS
    assert pd.read_csv(tmp_path / "ens" / "submission.csv").id.tolist() == HOLDOUT_IDS  # no test set: as a run does
    # a Kaggle-style member: the submission follows the sample's columns and row order
    comp = tmp_path / "comp"
    comp.mkdir()
    sample = pd.DataFrame({"id": TEST_IDS[::-1], **{c: 1 / 3 for c in CLASSES}})
    sample.to_csv(comp / "sample_submission.csv", index=False)
    kaggle = [write_run(tmp_path / n, {"identity": logits(Y, 1.6, s)}, seed=s, root=comp) for n, s in (("K1", 1), ("K2", 2))]
    assert ensemble(*kaggle, "--out", tmp_path / "kens") == 0
    sub = pd.read_csv(tmp_path / "kens" / "submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub.id.tolist() == TEST_IDS[::-1]
    np.testing.assert_allclose(sub[list(CLASSES)].sum(axis=1), 1.0)
    assert read_manifest(tmp_path / "kens").extra["sample_submission"].endswith("sample_submission.csv")


@pytest.mark.parametrize("pool", ["geometric", "rank"])
def test_a_member_scores_as_its_run_pooled_its_views(tmp_path: Path, pool: str) -> None:
    """A run whose recipe pools its TTA views geometrically or by rank (each fold apart): the
    member's OOF score in `harness ensemble` is the run's own, not the arithmetic mean's."""
    from harness_plugins.ensemble.geometric import geometric_mean
    from harness_plugins.ensemble.rank import rank_probs

    views = {"identity": 3.0 * logits(Y, 1.6, 1), "hflip": 0.3 * logits(Y, 1.6, 2)}
    run = write_run(tmp_path / "A", views, metric="log_loss")
    (run / "recipe.toml").write_text(f'[ensemble]\nname = "{pool}"\n')
    combine = geometric_mean if pool == "geometric" else rank_probs
    as_run = np.zeros((N, 3))
    for k in range(K):
        rows = FOLDS == k
        as_run[rows] = combine([softmax(z[rows]) for z in views.values()])
    arithmetic = np.mean([softmax(z) for z in views.values()], axis=0)
    metric = get_metric("log_loss")
    assert abs(score(metric, Y, as_run) - score(metric, Y, arithmetic)) > 1e-3  # the two pools differ here
    assert ensemble(run, "--out", tmp_path / "ens") == 0
    member = read_json(tmp_path / "ens" / "ensemble.json")["members"][0]
    assert member["oof_score"] == pytest.approx(score(metric, Y, as_run), rel=1e-12)


def test_one_shared_fold_is_nested_over_parts_of_its_rows(tmp_path: Path) -> None:
    # Members that trained fold 0 alone (a screen, or cv.only on all the data): the weights are fitted
    # on 4 of 5 seeded parts of fold 0's rows and each part is scored from the fit that left it out.
    runs = [write_run(tmp_path / n, {"identity": logits(Y, 1.6, s)}, trained=(0,), seed=s) for n, s in (("A", 1), ("B", 2))]
    assert ensemble(*runs, "--out", tmp_path / "ens", "--method", "hill_climb") == 0
    summary = read_json(tmp_path / "ens" / "ensemble.json")
    assert summary["folds"] == [0] and summary["nested_over"] == "rows" and summary["oof_written"] == "nested"
    assert set(summary["nested_weights"]) == {str(p) for p in range(ROW_PARTS)}
    assert not any("cannot be scored" in w for w in summary["warnings"])
    assert any("seeded parts of its rows" in n for n in summary["notes"])
    oof = pd.read_csv(tmp_path / "ens" / "oof.csv")
    assert len(oof) == int(np.sum(FOLDS == 0))
    assert score(get_metric("accuracy"), Y[FOLDS == 0], oof[list(CLASSES)].to_numpy()) == pytest.approx(
        summary["scores"]["oof_nested"])
    assert "parts of the one fold's rows" in table_rows(summary)[1][-1][-1]
    # the plain mean fits nothing: nothing to nest
    assert ensemble(*runs, "--out", tmp_path / "mean") == 0
    mean = read_json(tmp_path / "mean" / "ensemble.json")
    assert mean["nested_over"] is None and table_rows(mean)[1][-1][-1] == "nothing fitted: as in sample"


def test_row_parts_are_seeded_and_even() -> None:
    parts = row_parts(53)
    assert np.array_equal(parts, row_parts(53)) and not np.array_equal(parts, row_parts(53, seed=1))
    counts = np.bincount(parts, minlength=ROW_PARTS)
    assert len(counts) == ROW_PARTS and counts.max() - counts.min() <= 1


def test_headroom_counts_the_misses_every_member_shares(tmp_path: Path, pair: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert ensemble(*pair, "--out", tmp_path / "ens") == 0
    room = read_json(tmp_path / "ens" / "ensemble.json")["headroom"]["oof"]
    right = np.stack([pd.read_csv(p / "oof.csv")[list(CLASSES)].to_numpy().argmax(1) == Y for p in pair])
    ens_right = pd.read_csv(tmp_path / "ens" / "oof.csv")[list(CLASSES)].to_numpy().argmax(1) == Y
    assert room["rows"] == N and room["ensemble_wrong"] == (~ens_right).sum()
    assert room["every_member_wrong"] == (~right.any(0)).sum() > 0
    assert room["some_member_right"] == (~ens_right & right.any(0)).sum() > 0
    assert room["oracle_accuracy"] == pytest.approx(right.any(0).mean())
    assert room["oracle_accuracy"] > room["ensemble_accuracy"] == pytest.approx(ens_right.mean())
    table = pd.read_csv(tmp_path / "ens" / "mistakes.csv", keep_default_na=False)
    assert set(table["set"]) == {"oof"} and sorted(table.id) == sorted(np.array(IDS)[~ens_right])
    assert table.members_right.is_monotonic_increasing  # the rows nobody gets, first
    by_id = dict(zip(IDS, right.T, strict=True))
    for row in table.itertuples():
        assert row.right_by == ";".join(n for n, r in zip("AB", by_id[row.id], strict=True) if r)
        assert row.members_right == by_id[row.id].sum() and row.label != row.predicted
    assert f"every member misses {room['every_member_wrong']}," in capsys.readouterr().out


def test_headroom_of_a_labelled_holdout(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / n, {"identity": logits(Y, 1.6, s)}, holdout=True, seed=s) for n, s in (("A", 1), ("B", 2))]
    assert ensemble(*runs, "--out", tmp_path / "ens") == 0
    room = read_json(tmp_path / "ens" / "ensemble.json")["headroom"]
    holdout = pd.read_csv(tmp_path / "ens" / "holdout.csv")
    wrong = holdout[list(CLASSES)].to_numpy().argmax(1) != HOLDOUT_Y
    assert room["holdout"]["rows"] == HOLDOUT and room["holdout"]["ensemble_wrong"] == wrong.sum()
    table = pd.read_csv(tmp_path / "ens" / "mistakes.csv")
    assert sorted(table.id[table["set"] == "holdout"]) == sorted(holdout.id[wrong])


def test_headroom_with_two_classes_every_members_miss_is_the_means() -> None:
    from harness.ensemble.headroom import headroom
    from harness.ensemble.pipeline import LabelledSet

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    members = [np.stack([1 - (p := rng.uniform(0.01, 0.99, 400)), p], axis=1) for _ in range(3)]
    room = headroom(LabelledSet("oof", tuple(map(str, range(400))), y, members, np.mean(members, axis=0)))
    assert room["every_member_wrong"] > 0 and room["some_member_right"] > 0
    # a mean of probabilities each below 1/2 on the label stays below it: those rows are lost to any blend
    assert room["ensemble_wrong"] == room["every_member_wrong"] + room["some_member_right"]
    assert room["oracle_accuracy"] == pytest.approx(1 - room["every_member_wrong"] / 400)
