"""The ensemblers' math, on arrays: properties that hold whatever the data."""

from __future__ import annotations

import numpy as np
import pytest

from harness.ensemble.nested import nested_predictions
from harness.ensemble.temperature import blend_views, fit_temperature, power_scale, softmax_nd
from harness.metrics import cross_entropy as nll
from harness.metrics import get_metric, score
from harness.plugin_manager import load_plugins
from harness.specs import FittingEnsembler, MetricSpec
from harness_plugins.ensemble.geometric import geometric_mean
from harness_plugins.ensemble.hill_climb import HillClimb, HillClimbOptions, hill_climb
from harness_plugins.ensemble.mean import mean_probs
from harness_plugins.ensemble.rank import rank_average, rank_probs
from harness_plugins.ensemble.slsqp import Slsqp, SlsqpOptions, log_loss_and_grad

ACC = get_metric("accuracy")
LOG_LOSS = get_metric("log_loss")


def noisy(y: np.ndarray, c: int, noise: float, seed: int, signal: float = 2.0) -> np.ndarray:
    """Probabilities of a member that knows the label with Gaussian noise on its logits."""
    rng = np.random.default_rng(seed)
    return softmax_nd(signal * np.eye(c)[y] + noise * rng.normal(size=(len(y), c)))


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4, 400)


def test_every_method_is_offered() -> None:
    offered = load_plugins().components("ensemblers")
    assert {"mean", "geometric", "rank", "hill_climb", "slsqp"} <= set(offered)
    for name in ("hill_climb", "slsqp"):
        component = offered[name]
        assert isinstance(component.build(component.options(), None), FittingEnsembler)
    assert not isinstance(offered["mean"].build(offered["mean"].options(), None), FittingEnsembler)


def test_mean_and_hill_climb_beat_the_best_member_when_errors_differ(labels: np.ndarray) -> None:
    members = [noisy(labels, 4, 1.6, seed) for seed in (1, 2)]
    best = max(score(ACC, labels, p) for p in members)
    assert score(ACC, labels, mean_probs(members)) >= best
    climber = HillClimb(HillClimbOptions())
    fit = climber.fit(members, labels, ACC)
    assert score(ACC, labels, climber(members, fit.weights)) >= best


def test_hill_climb_picks_the_strong_member_more_often(labels: np.ndarray) -> None:
    strong, weak1, weak2 = noisy(labels, 4, 0.8, 1), noisy(labels, 4, 2.5, 2), noisy(labels, 4, 2.5, 3)
    counts = hill_climb([weak1, strong, weak2], lambda p: score(ACC, labels, p), 30)
    assert counts[1] > counts[0] and counts[1] > counts[2]
    bagged = HillClimb(HillClimbOptions(bags=15, bag_fraction=0.67, seed=0)).fit([weak1, strong, weak2], labels, ACC)
    assert bagged.weights[1] == max(bagged.weights) and abs(sum(bagged.weights) - 1) < 1e-9


def test_hill_climb_breaks_an_accuracy_tie_by_the_lower_log_loss() -> None:
    """Two members right on the same 8 of 10 images: the sharper one (0.9 on the right class
    against 0.6) has the lower log loss and is chosen, though it comes second."""
    y = np.array([0, 1] * 5)
    right = np.arange(10) < 8

    def member(p_right: float) -> np.ndarray:
        p_true = np.where(right, p_right, 0.4)
        probs = np.empty((10, 2))
        probs[np.arange(10), y], probs[np.arange(10), 1 - y] = p_true, 1 - p_true
        return probs

    soft, sharp = member(0.6), member(0.9)
    assert score(ACC, y, soft) == score(ACC, y, sharp) == 0.8
    fit = HillClimb(HillClimbOptions(iterations=0)).fit([soft, sharp], y, ACC)
    assert fit.weights == (0.0, 1.0)


def test_hill_climb_from_all_members_starts_at_the_mean_and_never_ends_below_it(labels: np.ndarray) -> None:
    """init = "all": no addition keeps the plain mean (equal weights); additions that help move it,
    and the in-sample score never falls below the mean's. From the best member, the same climb can
    end below the mean: with three equal members it stops at a blend the mean beats."""
    members = [noisy(labels, 4, 1.8, seed) for seed in (1, 2, 3)]
    gain = lambda p: score(ACC, labels, p)  # noqa: E731
    assert hill_climb(members, gain, 0, init="all").tolist() == [1.0, 1.0, 1.0]
    mean = gain(mean_probs(members))
    for iterations in (0, 5, 50):
        fit = HillClimb(HillClimbOptions(iterations=iterations, init="all")).fit(members, labels, ACC)
        assert gain(mean_probs(members, fit.weights)) >= mean
    from_best = HillClimb(HillClimbOptions(iterations=0)).fit(members, labels, ACC)
    assert gain(mean_probs(members, from_best.weights)) < mean  # one member alone: below the mean
    strong = [noisy(labels, 4, 0.6, 4), *members]
    counts = hill_climb(strong, gain, 30, init="all")
    assert counts[0] > max(counts[1:])  # the better member is added, as from the best member


def test_hill_climb_of_a_loss_minimises_it(labels: np.ndarray) -> None:
    members = [noisy(labels, 4, 1.0, 1), noisy(labels, 4, 3.0, 2)]
    fit = HillClimb(HillClimbOptions()).fit(members, labels, LOG_LOSS)
    best = min(score(LOG_LOSS, labels, p) for p in members)
    assert score(LOG_LOSS, labels, mean_probs(members, fit.weights)) <= best


def test_rank_average_keeps_the_order_of_equal_members(labels: np.ndarray) -> None:
    p = noisy(labels, 4, 1.0, 5)
    ranks = rank_average([p, p.copy()])
    mean = mean_probs([p, p.copy()])
    for c in range(4):
        assert (np.argsort(ranks[:, c], kind="stable") == np.argsort(mean[:, c], kind="stable")).all()
    binary = noisy(labels % 2, 2, 1.0, 6)
    out = rank_probs([binary, binary.copy()])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (np.argsort(out[:, 1], kind="stable") == np.argsort(binary[:, 1], kind="stable")).all()
    auc = get_metric("roc_auc")
    assert score(auc, labels % 2, out) == pytest.approx(score(auc, labels % 2, binary))


@pytest.mark.parametrize("metric", [ACC, LOG_LOSS, get_metric("roc_auc")])
def test_slsqp_weights_are_nonnegative_and_sum_to_one(labels: np.ndarray, metric: MetricSpec) -> None:
    y = labels % 2 if metric.name == "roc_auc" else labels
    c = 2 if metric.name == "roc_auc" else 4
    members = [noisy(y, c, n, s) for n, s in ((0.8, 1), (2.0, 2), (3.0, 3))]
    fit = Slsqp(SlsqpOptions()).fit(members, y, metric)
    w = np.array(fit.weights)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    assert w.argmax() == 0  # the least noisy member weighs most
    if metric.needs_probs and metric.name == "log_loss":
        assert fit.objective == "log_loss"
    else:  # labels only, or flat to a finite-difference step: a surrogate, said so
        assert fit.objective.startswith("log_loss (surrogate:") and metric.name in fit.objective


def test_slsqp_log_loss_gradient_matches_finite_differences(labels: np.ndarray) -> None:
    stack = np.stack([noisy(labels, 4, n, s) for n, s in ((1.0, 1), (2.0, 2), (0.5, 3))])
    w = np.array([0.2, 0.5, 0.3])
    f, g = log_loss_and_grad(stack, labels, w)
    assert f == pytest.approx(nll(labels, mean_probs(list(stack), w)))
    eps = 1e-6
    numeric = [(log_loss_and_grad(stack, labels, w + eps * e)[0] - log_loss_and_grad(stack, labels, w - eps * e)[0])
               / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)


def test_geometric_mean_of_one_member_is_that_member(labels: np.ndarray) -> None:
    p = noisy(labels, 4, 1.0, 7)
    np.testing.assert_allclose(geometric_mean([p, p]), p, atol=1e-12)
    np.testing.assert_allclose(mean_probs([p, noisy(labels, 4, 1.0, 8)], [1, 3], kind="geometric"),
                               geometric_mean([p, noisy(labels, 4, 1.0, 8)], [1, 3]))


def test_temperature_fitting_lowers_log_loss(labels: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    overconfident = 6.0 * (np.eye(4)[labels] + 1.2 * rng.normal(size=(len(labels), 4)))
    views = [overconfident, overconfident + rng.normal(size=overconfident.shape)]
    t = fit_temperature(views, [1.0, 1.0], labels)
    assert t > 1.5  # over-confident logits are cooled
    assert nll(labels, blend_views(views, [1, 1], t)) < nll(labels, blend_views(views, [1, 1], 1.0))
    one = blend_views(views[:1], [1.0], t)
    assert (one.argmax(1) == overconfident.argmax(1)).all()  # a single view's labels do not move


def test_power_one_is_the_identity_and_power_sharpens(labels: np.ndarray) -> None:
    p = noisy(labels, 4, 1.0, 9)
    assert power_scale(p, 1.0) is p
    sharp = power_scale(p, 3.0)
    np.testing.assert_allclose(sharp.sum(axis=1), 1.0)
    assert (sharp.max(axis=1) >= p.max(axis=1) - 1e-12).all()


def test_nested_predictions_never_fit_on_the_fold_they_predict() -> None:
    fold = np.repeat([0, 1, 2], 5)
    seen: list[np.ndarray] = []

    def fit(rows: np.ndarray) -> set[int]:
        seen.append(rows)
        return set(fold[rows].tolist())

    out, fitted = nested_predictions(fold, (0, 1, 2), fit, lambda s: np.tile([[float(sum(s))]], (15, 1)))
    assert all(k not in fitted[k] for k in (0, 1, 2)) and len(seen) == 3
    np.testing.assert_array_equal(out[:, 0], np.repeat([3.0, 2.0, 1.0], 5))  # folds {1,2}, {0,2}, {0,1}
    with pytest.raises(ValueError):
        nested_predictions(fold, (0,), fit, lambda s: np.zeros((15, 1)))


def test_weights_are_normalized_in_one_place_and_bad_ones_refused() -> None:
    from harness.specs import normalized_weights

    np.testing.assert_allclose(normalized_weights(None, 4), [0.25] * 4)
    np.testing.assert_allclose(normalized_weights([1, 3], 2), [0.25, 0.75])
    for bad, count in (([1, 2], 3), ([1, -1], 2), ([0, 0], 2)):
        with pytest.raises(ValueError):
            normalized_weights(bad, count)
