"""The best trial of a study: Optuna's best value, ties broken by the lowest OOF log loss, then
the lowest trial number (Optuna alone returns the first to finish)."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from harness.tune.best import LOSS_ATTR, SE_ATTR, best_trial, within_one_se


def _study(direction: str, trials: list[tuple[float | None, float | None]]) -> optuna.Study:
    """Trials in order, each (value, cv_log_loss); a None value is a pruned trial."""
    study = optuna.create_study(direction=direction)
    lr = FloatDistribution(1e-4, 1e-2)
    for k, (value, loss) in enumerate(trials):
        attrs = {} if loss is None else {LOSS_ATTR: loss}
        state = TrialState.PRUNED if value is None else TrialState.COMPLETE
        study.add_trial(create_trial(state=state, value=value, params={"lr": 1e-3 * (k + 1)},
                                     distributions={"lr": lr}, user_attrs=attrs))
    return study


@pytest.mark.parametrize(("direction", "trials", "number"), [
    ("maximize", [(0.90, 0.30), (0.94, 0.25), (0.94, 0.20), (0.94, 0.22)], 2),  # ties: the lowest loss
    ("maximize", [(0.94, 0.20), (0.95, 0.40), (0.94, 0.10)], 1),  # a better value wins whatever its loss
    ("minimize", [(0.30, 0.50), (0.20, 0.40), (0.20, 0.30)], 2),  # log-loss-like metrics: lower is better
    ("maximize", [(0.94, None), (0.94, 0.20), (None, None)], 1),  # a trial without the attribute ranks last
    ("maximize", [(0.94, 0.20), (0.94, 0.20)], 0),  # a full tie: the lowest number
])
def test_ties_go_to_the_lowest_oof_log_loss(direction: str, trials: list[tuple[float | None, float | None]],
                                           number: int) -> None:
    assert best_trial(_study(direction, trials)).number == number


def test_the_trials_within_one_standard_error_of_the_best_are_named() -> None:
    study = optuna.create_study(direction="maximize")
    lr = FloatDistribution(1e-4, 1e-2)
    for k, value in enumerate([0.90, 0.94, 0.93, 0.925, 0.80]):
        study.add_trial(create_trial(value=value, params={"lr": 1e-3 * (k + 1)}, distributions={"lr": lr},
                                     user_attrs={SE_ATTR: 0.02, LOSS_ATTR: 0.3}))
    best = best_trial(study)
    assert best.number == 1 and within_one_se(study, best) == [2, 3]  # 0.93 and 0.925 lie within 0.02 of 0.94
    plain = _study("maximize", [(0.9, 0.3), (0.94, 0.2)])  # a trial without an SE names none
    assert within_one_se(plain, best_trial(plain)) == []
