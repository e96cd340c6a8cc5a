"""Scores against hand-computed values, row order, the hidden private score, the daily limit and a
changed or missing answer key."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.leaderboard.board import HIDDEN, ROWS, append_row, display_rows, ranked, read_rows, reference_row
from harness.leaderboard.registry import SHIPPED, find_definition
from harness.leaderboard.submit import Receipt, submit
from harness.plugin_manager import load_plugins
from tests.leaderboard_support import (
    LABEL_IDS,
    LABEL_TRUTH,
    PROB_IDS,
    label_competition,
    label_csv,
    prob_csv,
    probability_competition,
)

ACCURACY = load_plugins().metric("accuracy")
NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Public rows 001-006 are ants, bees, wasps, ants, bees, wasps: 4 of 6 right. Private: all ants, 2 of 6.
GUESS = ["ants", "bees", "wasps", "ants", "ants", "ants"] + ["ants"] * 6
DOG = [0.2, 0.8, 0.7, 0.9, 0.5, 0.5, 0.5, 0.5]  # P(dog) per row; rows 1-4 Public (cat, cat, dog, dog)


def _submit(tmp: Path, name: str, text: str, message: str = "", now: datetime | None = None) -> Receipt:
    path = tmp / "sub.csv"
    path.write_text(text)
    return submit(path, name, tmp / "board", message, now)


def test_label_submission_scores_accuracy_by_hand(tmp_path: Path) -> None:
    label_competition(tmp_path)
    receipt = _submit(tmp_path, "toy", label_csv(GUESS))
    assert receipt.row.public_score == pytest.approx(4 / 6)
    assert receipt.row.private_score == pytest.approx(2 / 6)


@pytest.mark.parametrize("metric", ["f1_macro", "balanced_accuracy", "quadratic_kappa"])
def test_label_metrics_match_scikit_learn(tmp_path: Path, metric: str) -> None:
    from sklearn import metrics

    label_competition(tmp_path, metric=metric)
    row = _submit(tmp_path, "toy", label_csv(GUESS)).row
    fn = {"f1_macro": lambda y, p: metrics.f1_score(y, p, average="macro", labels=["ants", "bees", "wasps"]),
          "balanced_accuracy": metrics.balanced_accuracy_score,
          "quadratic_kappa": lambda y, p: metrics.cohen_kappa_score(y, p, weights="quadratic",
                                                                    labels=["ants", "bees", "wasps"])}[metric]
    assert row.public_score == pytest.approx(fn(LABEL_TRUTH[:6], GUESS[:6]))
    assert row.private_score == pytest.approx(fn(LABEL_TRUTH[6:], GUESS[6:]))


def test_probability_submission_scores_log_loss_by_hand(tmp_path: Path) -> None:
    probability_competition(tmp_path, "log_loss")
    row = _submit(tmp_path, "pets", prob_csv(DOG)).row
    # true class probabilities on the Public rows: cat 0.8, cat 0.2, dog 0.7, dog 0.9
    assert row.public_score == pytest.approx(-(math.log(0.8) + math.log(0.2) + math.log(0.7) + math.log(0.9)) / 4)
    assert row.private_score == pytest.approx(math.log(2))


def test_probability_submission_scores_roc_auc_by_hand(tmp_path: Path) -> None:
    probability_competition(tmp_path, "roc_auc")
    row = _submit(tmp_path, "pets", prob_csv(DOG)).row
    # cats score 0.2, 0.8; dogs 0.7, 0.9: 3 of the 4 (cat, dog) pairs are ordered right
    assert row.public_score == pytest.approx(0.75)
    assert row.private_score == pytest.approx(0.5)


def test_shuffled_rows_score_the_same(tmp_path: Path) -> None:
    label_competition(tmp_path)
    order = np.random.default_rng(0).permutation(len(LABEL_IDS))
    straight = _submit(tmp_path, "toy", label_csv(GUESS)).row
    shuffled = _submit(tmp_path, "toy", label_csv([GUESS[i] for i in order], [LABEL_IDS[i] for i in order])).row
    assert (shuffled.public_score, shuffled.private_score) == (straight.public_score, straight.private_score)
    probability_competition(tmp_path, "log_loss")
    order = np.random.default_rng(1).permutation(len(PROB_IDS))
    a = _submit(tmp_path, "pets", prob_csv(DOG)).row
    b = _submit(tmp_path, "pets", prob_csv([DOG[i] for i in order], [PROB_IDS[i] for i in order])).row
    assert (a.public_score, a.private_score) == pytest.approx((b.public_score, b.private_score))


def test_private_score_is_stored_but_hidden_until_final(tmp_path: Path) -> None:
    label_competition(tmp_path)
    _submit(tmp_path, "toy", label_csv(GUESS), message="guess")
    rows = read_rows(tmp_path / "board" / "toy" / "leaderboard.csv")
    assert rows[0].private_score == pytest.approx(2 / 6)
    head, cells = display_rows(ranked(rows, ACCURACY, final=False), final=False)
    shown = " ".join(head + cells[0])
    assert HIDDEN in cells[0] and "0.33333" not in shown and "0.66667" in shown
    head, cells = display_rows(ranked(rows, ACCURACY, final=True), final=True)
    assert "0.33333" in cells[0] and "shake-up" in head


def test_final_ranking_shows_the_shake_up(tmp_path: Path) -> None:
    label_competition(tmp_path, daily_limit=0)
    _submit(tmp_path, "toy", label_csv(GUESS), message="public best")  # public 4/6, private 2/6
    all_right_private = GUESS[:6] + LABEL_TRUTH[6:]  # public 4/6 too (later: ranked second), private 6/6
    _submit(tmp_path, "toy", label_csv(["ants"] * 6 + LABEL_TRUTH[6:]), message="private best")  # public 2/6
    _submit(tmp_path, "toy", label_csv(all_right_private), message="both")
    rows = read_rows(tmp_path / "board" / "toy" / "leaderboard.csv")
    final = ranked(rows, ACCURACY, final=True)
    assert [(e.row.message, e.public_rank, e.private_rank) for e in final] == [
        ("private best", 3, 1), ("both", 2, 2), ("public best", 1, 3)]
    _, cells = display_rows(final, final=True)
    assert [c[2] for c in cells] == ["+2", "0", "-2"]


def test_a_reference_row_ranks_by_its_scores_shows_them_and_is_not_a_submission(tmp_path: Path) -> None:
    label_competition(tmp_path, daily_limit=1)
    path = tmp_path / "board" / "toy" / ROWS
    append_row(path, reference_row("2014 winner", "kaggle.com", 0.5, None, NOON))  # private 3/6, public unknown
    _submit(tmp_path, "toy", label_csv(GUESS), message="mine", now=NOON)  # public 4/6, private 2/6: the limit allows it
    rows = read_rows(path)
    assert [(r.message, r.external, r.public_score) for r in rows] == [("2014 winner", True, None),
                                                                      ("mine", False, pytest.approx(4 / 6))]
    final = ranked(rows, ACCURACY, final=True)
    assert [(e.row.message, e.public_rank, e.private_rank) for e in final] == [("2014 winner", None, 1), ("mine", 1, 2)]
    _, cells = display_rows(final, final=True)
    assert cells[0][:5] == ["1", "", "", "0.50000", ""] and cells[1][:3] == ["2", "1", "-1"]
    public = ranked(rows, ACCURACY, final=False)
    assert [e.row.message for e in public] == ["mine", "2014 winner"]  # no public score: after every ranked row
    _, cells = display_rows(public, final=False)
    assert cells[0][2] == HIDDEN and cells[1][:3] == ["", "", "0.50000"]  # a reference's score is already public
    with pytest.raises(HarnessError, match="needs a private or a public score"):
        reference_row("nobody", "", None, None, NOON)


def test_daily_limit(tmp_path: Path) -> None:
    label_competition(tmp_path, daily_limit=2)
    for minute in (0, 1):
        _submit(tmp_path, "toy", label_csv(GUESS), now=NOON + timedelta(minutes=minute))
    with pytest.raises(HarnessError, match="daily limit of 2 submissions to 'toy' is reached"):
        _submit(tmp_path, "toy", label_csv(GUESS), now=NOON + timedelta(hours=11, minutes=59))
    _submit(tmp_path, "toy", label_csv(GUESS), now=NOON + timedelta(hours=12))  # the next UTC day
    assert len(read_rows(tmp_path / "board" / "toy" / "leaderboard.csv")) == 3


def test_refused_files_do_not_count_against_the_limit(tmp_path: Path) -> None:
    label_competition(tmp_path, daily_limit=1)
    with pytest.raises(HarnessError):
        _submit(tmp_path, "toy", "", now=NOON)
    _submit(tmp_path, "toy", label_csv(GUESS), now=NOON)


def test_changed_answer_key_is_an_error(tmp_path: Path) -> None:
    defn = label_competition(tmp_path)
    key = defn.answer_key_path
    key.write_text(key.read_text().replace("012,wasps", "012,bees"))
    with pytest.raises(HarnessError, match="changed since 'toy' was registered") as info:
        _submit(tmp_path, "toy", label_csv(GUESS))
    assert "--force" in str(info.value) and "bees" not in str(info.value)


def test_shipped_definition_without_its_answer_key_names_the_command(tmp_path: Path) -> None:
    for name, command in (("digits", "harness data digits data/digits"),
                          ("hymenoptera", "harness competition new hymenoptera --from ../shared/data/hymenoptera")):
        board = tmp_path / "board"
        (board / name).mkdir(parents=True)
        shutil.copy(SHIPPED / name / "competition.toml", board / name / "competition.toml")
        with pytest.raises(HarnessError, match="is missing") as info:
            _submit(tmp_path, name, label_csv(GUESS))
        assert command in str(info.value)


def test_an_unknown_competition_lists_the_registered_ones(tmp_path: Path) -> None:
    label_competition(tmp_path)
    with pytest.raises(HarnessError, match=r"no competition 'nope'.*toy"):
        find_definition("nope", tmp_path / "board")
