"""What a submission must look like, read from the competition's public sample submission: its
header, its ids, and the classes."""

from __future__ import annotations

import csv
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.leaderboard.registry import Definition


@dataclass(frozen=True)
class Expected:
    """What a submission must look like: the sample submission's header and ids, and the classes."""

    columns: tuple[str, ...]
    ids: tuple[str, ...]
    id_column: str
    classes: tuple[str, ...]
    kind: str


def expected_from(defn: Definition) -> Expected:
    """The sample submission of `defn`, checked against the definition's kind, columns and classes."""
    path = defn.sample_path
    if not path.is_file():
        raise HarnessError(f"the sample submission {path} of competition {defn.name!r} is missing: {defn.how_to_make()}")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    header = tuple(rows[0]) if rows else ()
    want = (defn.id_column, defn.label_column) if defn.kind == "label" else (defn.id_column, *defn.classes)
    if sorted(header) != sorted(want):
        raise HarnessError(f"{path}: header {','.join(header)} does not fit the {defn.kind} competition "
                           f"{defn.name!r} of {defn.path} (expected {','.join(want)})")
    at = header.index(defn.id_column)
    return Expected(header, tuple(r[at] for r in rows[1:]), defn.id_column, defn.classes, defn.kind)
