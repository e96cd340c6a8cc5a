"""A teacher's predictions from a finished harness run or ensemble folder, and the checks that make
a fold-aware teacher leakage-safe.

A run's out-of-fold (OOF) prediction of sample x comes from the one fold model that never trained
on x: it is exactly what a fold-aware teacher gives x, so a run's stored OOF logits (every TTA
view in `fold{k}/logits.npz`; an ensemble folder stores log-probabilities there, one view) serve
as cached soft labels without a forward pass. Test images get, for student fold k, the teacher's
fold-k predictions alone: that model never saw the labels of the fold the student validates on.

Stored OOF predictions label each training row with a model that trained on the student's
validation fold, so the student's CV reads high. `harness soft-labels RUN` stores the fold-safe
alternative: fold k's model's predictions of its own training rows (`fold{k}/in_sample.npz`), read
here as `SoftLabels.in_sample`.

Both work only when teacher and student share folds: the teacher's fold-k model must be the one
that left out exactly the student's fold k. `check_shared_folds` compares the teacher's
`folds.csv` with the student's assignment and names the first difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.classes import class_lookup
from harness.errors import HarnessError
from harness.outputs.in_sample import read_in_sample
from harness.outputs.manifest import read_fold_table, read_manifest
from harness.predict.pooling import pool_views


@dataclass(frozen=True)
class TeacherRun:
    """What the student checks a teacher run (or ensemble) folder against."""

    folder: Path
    kind: str  # "run" or "ensemble" (an ensemble folder holds predictions, no models)
    classes: tuple[str, ...]
    folds: int  # K
    fold_of: dict[str, int]  # the teacher's folds.csv: id -> fold
    label_of: dict[str, int]  # the teacher's oof.csv: id -> class index


@dataclass(frozen=True)
class SoftLabels:
    """A teacher's stored predictions as probabilities (float32, rows summing to 1)."""

    ids: tuple[str, ...]  # OOF ids
    oof: np.ndarray  # (N, C): each id predicted by the fold model that left it out
    test_ids: tuple[str, ...]
    test: dict[int, np.ndarray]  # teacher fold -> (M, C) predictions of the test images
    # teacher fold k -> (ids, (n, C)) its model's predictions of the rows it trained on (harness soft-labels)
    in_sample: dict[int, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)

    def rows(self, ids: Sequence[str], where: str, fold: int | None = None) -> np.ndarray:
        """The probabilities of `ids`, in that order: each one's OOF prediction, or with `fold`, the
        teacher's fold-`fold` model's in-sample prediction."""
        known, probs = (self.ids, self.oof) if fold is None else self.in_sample[fold]
        index = {i: n for n, i in enumerate(known)}
        missing = [i for i in ids if i not in index]
        if missing and fold is not None:
            raise HarnessError(f"{where}'s fold{fold}/in_sample.npz has no prediction of {len(missing)} training id(s), "
                               f"such as {missing[0]!r}: write it again with `harness soft-labels`")
        if missing:
            raise HarnessError(f"{where} has no out-of-fold prediction for {len(missing)} training id(s), such as "
                               f"{missing[0]!r}: to distill, it must have trained every fold (cv.only) on the same images "
                               "(pseudo-labelling alone, without loss.name = \"distill\", needs only the student's folds)")
        return probs[[index[i] for i in ids]]


def read_teacher_run(folder: Path) -> TeacherRun:
    manifest = read_manifest(folder)
    for name in ("folds.csv", "oof.csv"):
        if not (folder / name).is_file():
            raise HarnessError(f"teacher {folder} is not a finished run or ensemble folder (no {name})")
    folds = read_fold_table(folder, manifest.id_column)
    oof = pd.read_csv(folder / "oof.csv", dtype={manifest.id_column: str, "label": str}, keep_default_na=False)
    index = class_lookup(manifest.classes)
    return TeacherRun(folder, manifest.kind, manifest.classes, manifest.folds, {str(i): int(f) for i, f in folds.items()},
                      {str(i): index.get(lab, -1) for i, lab in zip(oof[manifest.id_column], oof["label"], strict=True)})


def read_soft_labels(folder: Path, tta: bool) -> SoftLabels:
    """OOF and per-fold test probabilities of a run or ensemble folder; `tta`: every stored TTA
    view, pooled as the run pooled them, else the first view alone."""
    from harness.ensemble.members import load_pool

    pool = load_pool([folder])
    member = pool.members[0]
    views = member.views if tta else member.views[:1]

    def probs(logits: list[np.ndarray]) -> np.ndarray:  # the views pooled as the run pooled them
        return pool_views(member.view_pool, logits).astype(np.float32)

    test: dict[int, np.ndarray] = {}
    if "test" in member.sets:
        test = {k: probs([member.sets["test"][v][slot] for v in views]) for slot, k in enumerate(pool.folds)}
    in_sample = {}
    for k in pool.folds:
        stored = read_in_sample(folder, k)
        if stored is None:
            continue
        if list(stored.logits) != list(member.views):
            raise HarnessError(f"{folder}/fold{k}/in_sample.npz holds views {list(stored.logits)}, the run "
                               f"{list(member.views)}: write it again with `harness soft-labels {folder}`")
        in_sample[k] = (stored.ids, probs([stored.logits[v] for v in views]))
    return SoftLabels(pool.ids, probs([member.oof[v] for v in views]), pool.set_ids.get("test", ()), test, in_sample)


def calibrated(soft: SoftLabels, label_of: Mapping[str, int]) -> tuple[SoftLabels, float]:
    """The stored probabilities rescaled by the temperature tau that minimises the log loss of the
    teacher's OOF on its own labels (temperature scaling, Guo et al. 2017), softmax(log p / tau),
    and tau. A teacher trained with label smoothing is under-confident (tau < 1 sharpens it);
    an over-confident one gets tau > 1. Its argmax, and so its accuracy, does not change."""
    from harness.ensemble.temperature import fit_temperature, softmax_nd

    y = np.array([label_of.get(i, -1) for i in soft.ids], dtype=np.int64)
    known = y >= 0
    if not known.any():
        raise HarnessError("callbacks.teacher.calibrate: the teacher's oof.csv labels none of its rows")
    log = [np.log(np.clip(soft.oof[known], 1e-12, 1.0))]
    tau = fit_temperature(log, [1.0], y[known])

    def scaled(p: np.ndarray) -> np.ndarray:
        return softmax_nd(np.log(np.clip(p, 1e-12, 1.0)), tau).astype(np.float32)

    return replace(soft, oof=scaled(soft.oof), test={k: scaled(p) for k, p in soft.test.items()},
                   in_sample={k: (ids, scaled(p)) for k, (ids, p) in soft.in_sample.items()}), tau


def check_shared_folds(teacher: TeacherRun, student: Mapping[str, int], folds: int) -> None:
    """A HarnessError unless every labelled id of the student sits in the same fold of the teacher."""
    where = f"teacher run {teacher.folder}"
    hint = f'cv.folds_file = "{teacher.folder / "folds.csv"}"'
    if teacher.folds != folds:
        raise HarnessError(f"{where} has {teacher.folds} folds and this run {folds}: they do not share folds "
                           f"(set cv.folds = {teacher.folds} and {hint})")
    missing = [i for i in student if i not in teacher.fold_of]
    if missing:
        raise HarnessError(f"{where} has no fold for {len(missing)} of this run's {len(student)} training ids, such as "
                           f"{missing[0]!r}: it trained on other images (or another data.fraction)")
    moved = Counter((teacher.fold_of[i], f) for i, f in student.items() if teacher.fold_of[i] != f)
    if moved:
        (theirs, ours), n = moved.most_common(1)[0]
        raise HarnessError(f"{where}'s fold {theirs} has {n} ids that this run puts in fold {ours}: the runs do not share "
                           f"folds, so a teacher model could have trained on the labels this run validates on "
                           f"(set {hint}, or the teacher's cv.seed)")


def check_labels(teacher: TeacherRun, ids: Sequence[str], labels: np.ndarray, num_classes: int) -> None:
    """The teacher's classes and labels are the student's: its probability columns mean the same."""
    where = f"teacher run {teacher.folder}"
    if len(teacher.classes) != num_classes:
        raise HarnessError(f"{where} has {len(teacher.classes)} classes {list(teacher.classes)[:10]}, this run "
                           f"{num_classes}: a teacher must predict the student's classes")
    wrong = [(i, int(y)) for i, y in zip(ids, labels, strict=True) if teacher.label_of.get(i, int(y)) != int(y)]
    if wrong:
        i, y = wrong[0]
        raise HarnessError(f"{where} labels {len(wrong)} training id(s) differently from this run, such as {i!r}: "
                           f"{teacher.classes[teacher.label_of[i]]!r} there, class {y} here: the classes or their "
                           f"order differ")


__all__ = ["TeacherRun", "SoftLabels", "read_teacher_run", "read_soft_labels", "calibrated", "check_shared_folds",
           "check_labels"]
