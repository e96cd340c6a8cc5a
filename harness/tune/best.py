"""The best trial of a study, ties broken: trials scored on a few dozen images tie often (accuracy
moves in steps of 1/n), and Optuna's `best_trial` then returns whichever finished first. Among the
trials at the best value this takes the one whose out-of-fold probabilities have the lowest log
loss (the `cv_log_loss` attribute each trial records), then the lowest number. A tie-break is
not a gain: `within_one_se` names the trials the best's own standard error cannot tell apart
from it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

LOSS_ATTR = "cv_log_loss"
SE_ATTR = "cv_score_se"  # the trial's CV standard error (metrics.json's, a bootstrap over its OOF rows)
ROWS_ATTR = "cv_rows"  # how many OOF rows scored it
BASELINE_ATTR = "baseline"  # true on the trial of the recipe's own values (a new study's first)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """Optuna's best value (in the study's direction), the lowest OOF log loss among the trials
    that reach it, then the lowest trial number."""
    from optuna.trial import TrialState

    value = study.best_value
    tied = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value == value]
    return min(tied, key=lambda t: (_loss(t), t.number))


def within_one_se(study: optuna.Study, best: optuna.trial.FrozenTrial) -> list[int]:
    """The other complete trials whose value lies within one standard error of the best's: on
    that many validation rows the study cannot tell them from the best ([] without an SE)."""
    from optuna.trial import TrialState

    se = best.user_attrs.get(SE_ATTR)
    if se is None or not math.isfinite(se) or best.value is None:
        return []
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.number != best.number and t.value is not None and abs(t.value - best.value) <= se]


def _loss(trial: optuna.trial.FrozenTrial) -> float:
    loss = trial.user_attrs.get(LOSS_ATTR)
    return math.inf if loss is None or not math.isfinite(loss) else float(loss)


__all__ = ["BASELINE_ATTR", "LOSS_ATTR", "ROWS_ATTR", "SE_ATTR", "best_trial", "within_one_se"]
