"""run.json: written, read back, and two runs are compatible exactly when classes, ids and folds
match; a mismatch names what differs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.data.folds import folds_hash
from harness.errors import HarnessError
from harness.outputs.manifest import RunManifest, check_compatible, id_set, read_manifest
from harness.train.run import per_process_batch

IDS = [f"img{i:03d}" for i in range(40)]


def _run(folder: Path, folds: list[int], classes: tuple[str, ...] = ("a", "b"), test: list[str] | None = None) -> Path:
    import numpy as np

    folder.mkdir(parents=True)
    pd.DataFrame({"id": IDS, "fold": folds}).to_csv(folder / "folds.csv", index=False)
    RunManifest(kind="run", classes=classes, metric="accuracy", higher_is_better=True, id_column="id", folds=4,
                folds_sha256=folds_hash(IDS, np.array(folds)), folds_source="stratified", cv_seed=0, fraction=1.0,
                train=id_set(IDS), test=id_set(test) if test else None, holdout=None).write(folder)
    return folder


def test_round_trip(tmp_path: Path) -> None:
    run = _run(tmp_path / "a", [i % 4 for i in range(40)], test=["t1", "t2"])
    m = read_manifest(run)
    assert m.classes == ("a", "b") and m.train.count == 40 and m.test is not None and m.test.count == 2


def test_compatible_runs_pass_and_moved_ids_are_named(tmp_path: Path) -> None:
    folds = [i % 4 for i in range(40)]
    a, b = _run(tmp_path / "A", folds), _run(tmp_path / "B", folds)
    assert check_compatible({"A": a, "B": b}).folds == 4
    moved = list(folds)
    for i in range(12):  # 12 of fold 1's ids move to fold 3 in run C
        j = [k for k, f in enumerate(folds) if f == 1][i % 10]
        moved[j] = 3 if i < 10 else moved[j]
    c = _run(tmp_path / "C", moved)
    with pytest.raises(HarnessError, match="run C's fold 3 has 10 ids that run A puts in fold 1"):
        check_compatible({"A": a, "C": c})


def test_other_classes_or_ids_are_named(tmp_path: Path) -> None:
    folds = [i % 4 for i in range(40)]
    a = _run(tmp_path / "A", folds, test=["t1"])
    with pytest.raises(HarnessError, match=r"classes \['a', 'c'\] differ"):
        check_compatible({"A": a, "B": _run(tmp_path / "B", folds, classes=("a", "c"), test=["t1"])})
    with pytest.raises(HarnessError, match="run D's test set \\(2 ids\\) is not run A's \\(1 ids"):
        check_compatible({"A": a, "D": _run(tmp_path / "D", folds, test=["t1", "t2"])})


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not a finished run or ensemble folder"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("batch, processes, ok", [(64, 1, True), (64, 2, True), (30, 4, False), (9, 2, False)])
def test_global_batch_must_split_evenly(batch: int, processes: int, ok: bool) -> None:
    from types import SimpleNamespace

    recipe = SimpleNamespace(train=SimpleNamespace(batch_size=batch))
    if ok:
        assert per_process_batch(recipe, processes) * processes == batch  # type: ignore[arg-type]
    else:
        with pytest.raises(HarnessError, match=f"train.batch_size={batch} is the global batch and must split evenly"):
            per_process_batch(recipe, processes)  # type: ignore[arg-type]
