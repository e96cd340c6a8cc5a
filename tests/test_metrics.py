"""Metrics are components: each built-in agrees with scikit-learn on a hand-checkable case,
declares its direction and whether it needs probabilities, and one `score` serves them all."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.metrics import cross_entropy, get_metric, one_hot, score
from harness.plugin_manager import load_plugins

Y = np.array([0, 1, 2, 2, 1, 0])
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])


@pytest.mark.parametrize("name, expected, higher, needs_probs", [
    ("accuracy", 4 / 6, True, False),
    ("balanced_accuracy", (1 + 0.5 + 0.5) / 3, True, False),
    ("f1_macro", (0.8 + 2 / 3 + 0.5) / 3, True, False),
    ("log_loss", -np.mean(np.log([0.7, 0.8, 0.6, 0.4, 0.3, 0.6])), False, True),
    ("quadratic_kappa", None, True, False),
    ("roc_auc", None, True, True),
])
def test_builtin_metrics(name: str, expected: float | None, higher: bool, needs_probs: bool) -> None:
    metric = get_metric(name)
    assert metric.higher_is_better is higher and metric.needs_probs is needs_probs
    value = score(metric, Y, P)
    if expected is not None:
        assert value == pytest.approx(expected)
    assert np.isfinite(value)


def test_quadratic_kappa_punishes_far_grades_more() -> None:
    y = np.array([0, 1, 2, 3, 4] * 4)
    near = one_hot(np.clip(y + 1, 0, 4), 5)
    far = one_hot(np.clip(4 - y, 0, 4), 5)
    kappa = get_metric("quadratic_kappa")
    assert score(kappa, y, one_hot(y, 5)) == pytest.approx(1.0)
    assert score(kappa, y, near) > 0.5 > score(kappa, y, far)


def test_roc_auc_binary_and_multiclass() -> None:
    auc = get_metric("roc_auc")
    assert score(auc, np.array([0, 0, 1, 1]), np.array([[0.9, 0.1], [0.6, 0.4], [0.35, 0.65], [0.2, 0.8]])) == 1.0
    perfect = one_hot(Y, 3) * 0.9 + 0.1 / 3
    assert score(auc, Y, perfect) == pytest.approx(1.0)


def test_label_metrics_score_one_hot_rows_like_the_labels() -> None:
    for name in ("accuracy", "f1_macro", "balanced_accuracy", "quadratic_kappa"):
        metric = get_metric(name)
        assert score(metric, Y, one_hot(P.argmax(1), 3)) == pytest.approx(score(metric, Y, P))


def test_better_follows_the_direction() -> None:
    assert get_metric("accuracy").better(0.9, 0.8) and not get_metric("accuracy").better(0.8, 0.9)
    assert get_metric("log_loss").better(0.2, 0.3) and get_metric("log_loss").better(5.0, None)


def test_cross_entropy_is_log_loss() -> None:
    assert cross_entropy(Y, P) == pytest.approx(score(get_metric("log_loss"), Y, P))


def test_unknown_metric_suggests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HarnessError, match="did you mean 'accuracy'"):
        get_metric("acuracy", load_plugins())


@pytest.mark.parametrize(("name", "sign", "direction", "best"), [("accuracy", 1.0, "maximize", 0.9),
                                                                 ("log_loss", -1.0, "minimize", 0.2)])
def test_a_metric_answers_every_question_of_direction(name: str, sign: float, direction: str, best: float) -> None:
    from harness.plugin_manager import load_plugins

    metric = load_plugins().metric(name)
    assert metric.sign == sign and metric.direction == direction
    assert metric.best([0.5, 0.9, 0.2]) == best
    assert metric.better(best, 0.5) and not metric.better(0.5, best) and metric.better(0.5, None)
    assert not metric.better(0.5, 0.5)  # a tie is no improvement
    step = 0.1 * sign
    assert metric.better(0.5 + step, 0.5, min_delta=0.05) and not metric.better(0.5 + step, 0.5, min_delta=0.2)
    assert metric.in_words == ("higher is better" if sign > 0 else "lower is better")


def test_accuracy_is_sklearns_on_random_blends() -> None:
    """accuracy is numpy's (hill climbing calls it ~1,500 times); it must equal sklearn's, ties included."""
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(0)
    for rows, classes in ((7, 2), (500, 10), (1000, 3)):
        y = rng.integers(0, classes, rows)
        probs = rng.integers(0, 3, (rows, classes)).astype(float)  # many tied rows: argmax takes the first
        assert get_metric("accuracy")(y, probs) == accuracy_score(y, probs.argmax(1))


def test_bootstrap_se_is_the_binomial_standard_error_for_accuracy() -> None:
    from harness.metrics import bootstrap_se, get_metric

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 3, n)
    probs = np.full((n, 3), 0.1)
    right = rng.random(n) < 0.8
    probs[np.arange(n), np.where(right, y, (y + 1) % 3)] = 0.8  # accuracy 0.8 (about)
    acc = float(right.mean())
    expected = np.sqrt(acc * (1 - acc) / n)
    se = bootstrap_se(get_metric("accuracy"), y, probs, rounds=2000)
    assert se == pytest.approx(expected, rel=0.1)  # 2,000 resamples: the bootstrap's own error is about 2%
    assert bootstrap_se(get_metric("accuracy"), y, probs) == bootstrap_se(get_metric("accuracy"), y, probs)  # seeded
    assert np.isnan(bootstrap_se(get_metric("accuracy"), y[:1], probs[:1]))
    two = np.array([0, 1, 1])  # roc_auc cannot score a resample with one class: those are skipped, not fatal
    se_auc = bootstrap_se(get_metric("roc_auc"), two, np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]))
    assert se_auc == 0.0  # every resample it can score separates the classes perfectly
