"""Reading a CSV the user wrote (train.csv, a sample submission, a hierarchy): every cell as text,
and one clear line when the file is missing, unreadable or lacks a column."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError


def read_csv(path: Path, needed: Sequence[str], missing: str = "", hint: str = "") -> pd.DataFrame:
    """`path` as strings (empty cells stay ""); `missing` replaces the message for an absent file,
    `hint` follows the message for absent columns."""
    if not path.is_file():
        raise HarnessError(missing or f"missing file: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path} is not a readable CSV: {exc}") from exc
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise HarnessError(f"{path}: missing column(s) {absent}; {hint}columns are {list(df.columns)}")
    return df
