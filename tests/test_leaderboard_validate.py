"""Every refused submission: one specific line, no score recorded, no answer-key label in the message."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.leaderboard.board import ROWS
from harness.leaderboard.registry import Definition
from harness.leaderboard.submit import submit
from tests.leaderboard_support import (
    LABEL_IDS,
    PROB_IDS,
    assert_no_leak,
    label_competition,
    label_csv,
    prob_csv,
    probability_competition,
)

ANTS = ["ants"] * len(LABEL_IDS)  # a valid label submission that names only the sample's label
HALF = [0.5] * len(PROB_IDS)


def refused(tmp_path: Path, defn: Definition, content: str | bytes) -> str:
    path = tmp_path / "submission.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    board = defn.path.parent.parent
    with pytest.raises(HarnessError) as info:
        submit(path, defn.name, board)
    message = str(info.value)
    assert_no_leak(message, defn, path.read_bytes().decode("utf-8", "replace"))
    assert not (board / defn.name / ROWS).exists(), "a refused file must not be scored"
    return message


def _replace_line(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = new
    return "".join(lines)


LABEL_CASES: dict[str, tuple[str | bytes, str]] = {
    "empty": (b"", "is empty"),
    "whitespace only": ("\n \n", "is empty"),
    "byte-order mark": (codecs.BOM_UTF8 + label_csv(ANTS).encode(), "byte-order mark"),
    "semicolons": (label_csv(ANTS).replace(",", ";"), "separates its columns with semicolons"),
    "tabs": (label_csv(ANTS).replace(",", "\t"), "separates its columns with tabs"),
    "wrong header": (label_csv(ANTS).replace("id,label", "ID,Label"), "wrong header 'ID,Label'; expected id,label"),
    "missing header": (label_csv(ANTS).split("\n", 1)[1], "has no header: its first line is data"),
    "extra column": (label_csv(ANTS).replace("id,label", "id,label,score").replace(",ants", ",ants,1"),
                     "has the unexpected column(s) 'score'"),
    "missing column": ("id\n" + "".join(f"{i}\n" for i in LABEL_IDS), "lacks the column(s) 'label'"),
    "header only": ("id,label\n", "has a header but no rows"),
    "ragged row": (_replace_line(label_csv(ANTS), 3, "002,ants,x\n"), "line 3 has 3 field(s) but the header has 2"),
    "missing ids": (label_csv(ANTS[:-1], LABEL_IDS[:-1]), "lacks 1 id(s) of sample_submission.csv, e.g. '012'"),
    "duplicate ids": (label_csv(ANTS, LABEL_IDS[:-1] + ["002"]), "has the id '002' 2 times (lines 3, 13)"),
    "unknown ids": (label_csv(ANTS, LABEL_IDS[:-1] + ["zzz"]), "1 id(s) that are not in sample_submission.csv, e.g. 'zzz'"),
    "spreadsheet ids": (label_csv(ANTS, [str(int(i)) for i in LABEL_IDS]),
                        "ids changed by a spreadsheet: '1' is '001' in sample_submission.csv (12 such id(s))"),
    "NaN label": (label_csv(["NaN"] + ANTS[1:]), "line 2: the prediction is empty or NaN"),
    "empty label": (label_csv([""] + ANTS[1:]), "line 2: the prediction is empty or NaN"),
    "label outside the classes": (label_csv(ANTS[:-1] + ["moth"]), "line 13: the label 'moth' is not a class"),
}

PROB_CASES: dict[str, tuple[str | bytes, str]] = {
    "missing class column": ("id,cat\n" + "".join(f"{i},1\n" for i in PROB_IDS), "lacks the column(s) 'dog'"),
    "NaN probability": (prob_csv(HALF).replace("p03,0.5,0.5", "p03,nan,0.5"),
                        "line 4, column 'cat': the probability is empty or NaN"),
    "non-numeric probability": (prob_csv(HALF).replace("p03,0.5,0.5", "p03,half,0.5"),
                                "line 4, column 'cat': 'half' is not a number"),
    "probability outside [0, 1]": (prob_csv(HALF).replace("p02,0.5,0.5", "p02,-0.5,1.5"),
                            "line 3, column 'cat': -0.5 is outside [0, 1]"),
    "probability infinite": (prob_csv(HALF).replace("p02,0.5,0.5", "p02,0.5,inf"), "column 'dog': inf is outside [0, 1]"),
    "rows not summing to 1": (prob_csv(HALF).replace("p05,0.5,0.5", "p05,0.5,0.3"),
                              "line 6: the probabilities sum to 0.8, not 1 (tolerance 0.001)"),
}


@pytest.mark.parametrize("case", LABEL_CASES)
def test_label_submission_refused(tmp_path: Path, case: str) -> None:
    content, expected = LABEL_CASES[case]
    assert expected in refused(tmp_path, label_competition(tmp_path), content)


@pytest.mark.parametrize("case", PROB_CASES)
def test_probability_submission_refused(tmp_path: Path, case: str) -> None:
    content, expected = PROB_CASES[case]
    assert expected in refused(tmp_path, probability_competition(tmp_path), content)


def test_numeric_classes_name_a_non_number(tmp_path: Path) -> None:
    from harness.data.kaggle_tables import write_tables
    from harness.leaderboard.competition import Options, new_competition

    ids = [f"{i:03d}" for i in range(6)]
    truth = ["0", "1", "2", "0", "1", "2"]
    write_tables(tmp_path / "num", (["a", "b", "c"], ["0", "1", "2"]), (ids, truth), ["0", "1", "2"])
    defn = new_competition("num", tmp_path / "num", None, tmp_path / "board", Options(), "test").definition
    content = "id,label\n" + "".join(f"{i},{'x' if i == '003' else '0'}\n" for i in ids)
    assert "line 5: the prediction 'x' is not a number" in refused(tmp_path, defn, content)


def test_an_id_only_in_the_answer_key_is_never_named(tmp_path: Path) -> None:
    defn = label_competition(tmp_path)
    key = defn.answer_key_path
    key.write_text(key.read_text() + "999,wasps,Private\n")
    from dataclasses import replace

    from harness.leaderboard.registry import sha256_file, write_definition

    write_definition(replace(defn, answer_key_sha256=sha256_file(key)))
    message = refused(tmp_path, defn, label_csv(ANTS))
    assert "differ" in message and "999" not in message
