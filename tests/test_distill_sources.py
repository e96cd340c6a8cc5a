"""What a teacher reads and checks, on toy tables (fast): calibration of stored soft labels,
teachers on other folds or labels are clear errors, and pseudo-labels come out as asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.config.typed import from_dict
from harness.data.competition import Split
from harness.errors import HarnessError
from harness.train.pseudo import PseudoLabeller, with_pseudo
from harness_plugins.distill.pseudo import PseudoOptions, select
from harness_plugins.distill.sources import SoftLabels, calibrated, check_labels, check_shared_folds
from harness_plugins.distill.teacher import Teacher, TeacherOptions
from tests.distill_support import (
    FOLD_OF,
    IDS,
    LABEL_OF,
    C,
    K,
    batch_of,
    fold_state,
    random_probs,
    soft_teacher,
    teacher_run,
)

# -- the folds must be the student's -------------------------------------------------------------


@pytest.mark.parametrize(("scale", "sharper"), [(0.3, True), (3.0, False)])
def test_calibration_fits_the_temperature_that_undoes_a_flat_or_overconfident_teacher(scale: float, sharper: bool) -> None:
    """Soft labels made from well-calibrated logits z (the labels are drawn from softmax(z)),
    flattened or sharpened as softmax(scale * z): the fitted temperature is about `scale`, which
    gives back the calibrated probabilities; argmax (the teacher's accuracy) never moves."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.0, (4000, 5))
    true = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in true])
    off = np.exp(scale * z) / np.exp(scale * z).sum(1, keepdims=True)
    ids = tuple(str(i) for i in range(len(z)))
    soft = SoftLabels(ids, off.astype(np.float32), ("t",), {0: off[:1].astype(np.float32)})
    fixed, tau = calibrated(soft, {i: int(c) for i, c in zip(ids, y, strict=True)})
    assert tau == pytest.approx(scale, rel=0.1)
    assert (fixed.oof.max(1).mean() > off.max(1).mean()) == sharper
    assert np.abs(fixed.oof - true).max() < 0.1 and np.array_equal(fixed.oof.argmax(1), off.argmax(1))
    assert np.allclose(fixed.test[0], fixed.oof[:1], atol=1e-6)  # the test rows are rescaled alike
    with pytest.raises(HarnessError, match="calibrate"):
        from_dict(TeacherOptions, {"source": "run", "run": "runs/x", "calibrate": True}, "callbacks.teacher").validate(
            "callbacks.teacher")


def test_a_teacher_on_other_folds_is_a_clear_error() -> None:
    moved = dict(FOLD_OF)
    for i in IDS[:6]:  # ids 0 and 3 of fold 0 go to fold 1; 1, 4 to fold 2; 2, 5 to fold 0
        moved[i] = (FOLD_OF[i] + 1) % K
    with pytest.raises(HarnessError, match=r"teacher run /runs/teacher's fold 1 has 2 ids that this run puts in fold 0.*"
                                           r"cv.folds_file = \"/runs/teacher/folds.csv\""):
        check_shared_folds(teacher_run(moved), FOLD_OF, K)
    with pytest.raises(HarnessError, match="has 5 folds and this run 3"):
        check_shared_folds(teacher_run(folds=5), FOLD_OF, K)
    with pytest.raises(HarnessError, match="no fold for 1 of this run's 19 training ids, such as 'new'"):
        check_shared_folds(teacher_run(), {**FOLD_OF, "new": 0}, K)
    check_shared_folds(teacher_run({**FOLD_OF, "extra": 2}), FOLD_OF, K)  # ids the student leaves out are fine


def test_the_error_reaches_the_fold_before_any_training() -> None:
    moved = {i: (f + 1) % K for i, f in FOLD_OF.items()}
    cb = soft_teacher(0, random_probs(len(IDS)))
    cb.teacher_run = teacher_run(moved)
    with pytest.raises(HarnessError, match="do not share folds"):
        cb.on_fold_start(fold_state(0))


def test_a_teacher_with_other_labels_is_a_clear_error() -> None:
    ids = [i for i in IDS if FOLD_OF[i] != 0]
    labels = np.array([LABEL_OF[i] for i in ids])
    check_labels(teacher_run(), ids, labels, C)
    with pytest.raises(HarnessError, match="labels 12 training id"):
        check_labels(teacher_run(), ids, (labels + 1) % C, C)
    with pytest.raises(HarnessError, match="has 3 classes"):
        check_labels(teacher_run(), ids, labels, 4)


# -- pseudo-labels --------------------------------------------------------------------------------


def test_soft_pseudo_labels_become_the_targets_of_the_pseudo_rows_only() -> None:
    pseudo = Split(("t0", "t1", "t2"), tuple(Path(f"t{k}.png") for k in range(3)), np.array([0, 0, 0]))
    state = fold_state(2, pseudo.ids)
    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.on_fold_start(state)
    n = len(state.train_ids)
    rows = [n - 1, 0, n - 3, 5]
    batch = cb.on_batch(state, batch_of(state, rows))
    assert batch.target.shape == (4, C)
    torch.testing.assert_close(batch.target[[0, 2]], torch.tensor([[0.7, 0.2, 0.1]] * 2))
    labelled = torch.tensor([LABEL_OF[state.train_ids[r]] for r in (0, 5)])
    torch.testing.assert_close(batch.target[[1, 3]], nn.functional.one_hot(labelled, C).float())
    torch.testing.assert_close(batch.extras["teacher_probs"][[0, 2]], torch.tensor([[0.7, 0.2, 0.1]] * 2))


def test_a_teacher_that_trained_some_folds_pseudo_labels_but_cannot_distill() -> None:
    """A teacher run with cv.only = [2] has OOF rows for fold 2's ids alone. Pseudo-labelling needs
    only its fold-k test predictions, so a student with the cross-entropy loss trains on them; the
    distillation loss needs every training row's soft label, so it stops with the reason."""
    from harness.specs import target_loss
    from harness_plugins.loss.cross_entropy import SmoothedCrossEntropy

    pseudo = Split(("t0", "t1"), (Path("t0.png"), Path("t1.png")), np.array([0, 0]))
    fold2 = tuple(i for i in IDS if FOLD_OF[i] == 2)
    partial = SoftLabels(fold2, random_probs(len(fold2)), (), {})
    loss = target_loss(SmoothedCrossEntropy(C))
    state = fold_state(2, pseudo.ids, loss=loss)
    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.soft = partial
    cb.on_fold_start(state)
    n = len(state.train_ids)
    batch = cb.on_batch(state, batch_of(state, [n - 1, 0]))
    assert "teacher_probs" not in batch.extras
    torch.testing.assert_close(batch.target[0], torch.tensor([0.7, 0.2, 0.1]))
    torch.testing.assert_close(batch.target[1], nn.functional.one_hot(torch.tensor(LABEL_OF[state.train_ids[0]]), C).float())
    assert torch.isfinite(state.loss(torch.randn(2, C), batch))

    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.soft = partial
    with pytest.raises(HarnessError, match="no out-of-fold prediction for 12 training id.*to distill, it must have trained"):
        cb.on_fold_start(fold_state(2, pseudo.ids))


def test_pseudo_selection_soft_hard_and_threshold() -> None:
    pool = Split(tuple(f"t{k}" for k in range(4)), tuple(Path(f"t{k}.png") for k in range(4)), None)
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]], dtype=np.float32)
    split, targets = select(pool, probs, PseudoOptions(images="test"))
    assert split.ids == pool.ids and split.labels.tolist() == [0, 0, 2, 1]
    np.testing.assert_array_equal(targets, probs)
    split, targets = select(pool, probs, PseudoOptions(images="test", labels="hard", threshold=0.6))
    assert split.ids == ("t0", "t2", "t3") and split.labels.tolist() == [0, 2, 1]
    np.testing.assert_array_equal(targets, np.eye(C, dtype=np.float32)[[0, 2, 1]])


def test_pseudo_images_follow_the_labelled_ones_and_never_share_an_id() -> None:
    train = Split(("a", "b"), (Path("a"), Path("b")), np.array([0, 1]))
    extra = Split(("t0",), (Path("t0"),), np.array([2]))
    both = with_pseudo(train, [extra])
    assert both.ids == ("a", "b", "t0") and both.labels.tolist() == [0, 1, 2]
    assert with_pseudo(train, []) is train
    with pytest.raises(HarnessError, match="also labelled training ids"):
        with_pseudo(train, [Split(("a",), (Path("x"),), np.array([0]))])
    assert isinstance(Teacher(TeacherOptions(run="r"), C, np.zeros(0)), PseudoLabeller)
