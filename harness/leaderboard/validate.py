"""Check a submission file against the competition's sample submission, the way Kaggle's scorer
refuses a file: one specific line per problem, and no score.

Every message quotes only the competitor's own file and the public sample submission (its header
and ids): never a value of the answer key, and not even the class list, which would name labels.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.leaderboard.sample import Expected

SUM_TOLERANCE = 1e-3  # a probability row may sum to 1 +- this
_BOMS = ((codecs.BOM_UTF8, "UTF-8"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


@dataclass(frozen=True)
class Submission:
    ids: tuple[str, ...]
    probs: np.ndarray  # (N, C) float64 in `classes` order; one-hot rows for a label submission


class _Err:
    """Makes the one-line error about one submission file."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, message: str) -> HarnessError:
        joint = ", " if message.startswith("line ") else " "
        return HarnessError(f"submission {self.name}{joint}{message}")


def _decode(raw: bytes, err: _Err) -> str:
    if not raw.strip():
        raise err("is empty")
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise err(f"starts with a {name} byte-order mark (BOM, as Excel's 'CSV UTF-8' writes); "
                      "save it as UTF-8 without a BOM")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise err(f"is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})") from None


def spreadsheet_forms(ids: tuple[str, ...]) -> dict[str, str]:
    """How a spreadsheet rewrites numeric ids (leading zeros dropped, '7.0', '1.23457E+12') -> the id."""
    known, forms = set(ids), {}
    for i in ids:
        try:
            value = float(i)
        except ValueError:
            continue
        if not math.isfinite(value):
            continue
        candidates = {f"{value:.5E}", repr(value)}
        if value.is_integer():
            candidates |= {str(int(value)), f"{int(value)}.0"}
        forms.update({c: i for c in candidates if c != i and c not in known})
    return forms


def _check_header(cols: list[str], exp: Expected, err: _Err) -> None:
    want = list(exp.columns)
    if sorted(cols) == sorted(want) and len(set(cols)) == len(cols):
        return
    shown = ",".join(want)
    if len(cols) == 1 and len(want) > 1:
        for delim, word in ((";", "semicolons"), ("\t", "tabs")):
            if delim in cols[0]:
                raise err(f"separates its columns with {word}; a submission is comma-separated: {shown}")
    dup = next((c for c, n in Counter(cols).items() if n > 1), None)
    if dup is not None:
        raise err(f"has the column {dup!r} twice in its header; expected {shown}")
    case = " (column names are case-sensitive)" if sorted(c.lower() for c in cols) == sorted(c.lower() for c in want) else ""
    if not set(cols) & set(want):
        first = cols[0].strip()
        if first in exp.ids or first in spreadsheet_forms(exp.ids):
            raise err(f"has no header: its first line is data; start it with the header {shown}")
        raise err(f"has the wrong header {','.join(cols)!r}; expected {shown} as in sample_submission.csv{case}")
    missing = [c for c in want if c not in cols]
    extra = [c for c in cols if c not in want]
    parts = ([f"lacks the column(s) {', '.join(map(repr, missing))}"] if missing else []) + (
        [f"has the unexpected column(s) {', '.join(map(repr, extra))}"] if extra else [])
    raise err(f"{' and '.join(parts)}; expected {shown}{case}")


def _check_ids(ids: list[str], lines: list[int], exp: Expected, err: _Err) -> None:
    known = set(exp.ids)
    unknown = [i for i in ids if i not in known]
    forms = spreadsheet_forms(exp.ids) if unknown else {}
    changed = [i for i in unknown if i in forms]
    if changed:
        raise err(f"has ids changed by a spreadsheet: {changed[0]!r} is {forms[changed[0]]!r} in sample_submission.csv "
                  f"({len(changed)} such id(s)); keep the id column as text")
    counts = Counter(ids)
    dup = next((i for i in ids if counts[i] > 1), None)
    if dup is not None:
        at = [str(n) for i, n in zip(ids, lines, strict=True) if i == dup]
        raise err(f"has the id {dup!r} {counts[dup]} times (lines {', '.join(at[:5])})")
    if unknown:
        raise err(f"has {len(unknown)} id(s) that are not in sample_submission.csv, e.g. {', '.join(map(repr, unknown[:3]))}")
    missing = [i for i in exp.ids if i not in counts]
    if missing:
        raise err(f"lacks {len(missing)} id(s) of sample_submission.csv, e.g. {', '.join(map(repr, missing[:3]))}")


def _labels(values: list[str], lines: list[int], exp: Expected, err: _Err) -> np.ndarray:
    from harness.data.classes import class_lookup
    from harness.metrics import one_hot

    index = class_lookup(exp.classes)
    numeric = all(_is_number(c) for c in exp.classes)
    out = np.empty(len(values), dtype=np.int64)
    for k, (v, line) in enumerate(zip(values, lines, strict=True)):
        if v in index:
            out[k] = index[v]
        elif v.lower() in _MISSING:
            raise err(f"line {line}: the prediction is empty or NaN")
        elif numeric and not _is_number(v):
            raise err(f"line {line}: the prediction {v!r} is not a number (the class labels are numbers)")
        else:
            raise err(f"line {line}: the label {v!r} is not a class of this competition (see train.csv's labels)")
    return one_hot(out, len(exp.classes))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _probabilities(cells: list[list[str]], lines: list[int], exp: Expected, err: _Err) -> np.ndarray:
    probs = np.empty((len(cells), len(exp.classes)))
    for k, (row, line) in enumerate(zip(cells, lines, strict=True)):
        for j, (v, c) in enumerate(zip(row, exp.classes, strict=True)):
            where = f"line {line}, column {c!r}"
            if v.lower() in _MISSING:
                raise err(f"{where}: the probability is empty or NaN")
            if not _is_number(v):
                raise err(f"{where}: {v!r} is not a number")
            p = float(v)
            if not 0.0 <= p <= 1.0:  # also refuses NaN and inf
                raise err(f"{where}: {v} is outside [0, 1]")
            probs[k, j] = p
        total = probs[k].sum()
        if abs(total - 1.0) > SUM_TOLERANCE + 1e-12:
            raise err(f"line {line}: the probabilities sum to {total:.6g}, not 1 (tolerance {SUM_TOLERANCE:g})")
    return probs


def read_submission(path: Path, exp: Expected) -> Submission:
    """The validated submission, rows in file order; a HarnessError names the first problem."""
    err = _Err(path.name)
    if not path.is_file():
        raise HarnessError(f"no submission file {path}")
    reader = csv.reader(io.StringIO(_decode(path.read_bytes(), err), newline=""))
    rows, lines = [], []
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append([cell.strip() for cell in row])
            lines.append(reader.line_num)
    if not rows:
        raise err("holds only empty fields")
    cols = rows[0]
    _check_header(cols, exp, err)
    body, lines = rows[1:], lines[1:]
    if not body:
        raise err("has a header but no rows")
    for row, line in zip(body, lines, strict=True):
        if len(row) != len(cols):
            hint = "; is it separated by ';' or tabs?" if any(";" in c or "\t" in c for c in row) else ""
            raise err(f"line {line} has {len(row)} field(s) but the header has {len(cols)}{hint}")
    at = {c: k for k, c in enumerate(cols)}
    ids = [row[at[exp.id_column]] for row in body]
    _check_ids(ids, lines, exp, err)
    if exp.kind == "label":
        label_col = next(c for c in exp.columns if c != exp.id_column)
        probs = _labels([row[at[label_col]] for row in body], lines, exp, err)
    else:
        probs = _probabilities([[row[at[c]] for c in exp.classes] for row in body], lines, exp, err)
    return Submission(tuple(ids), probs)
