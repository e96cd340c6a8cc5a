"""A competition's scored submissions: `BOARD/NAME/leaderboard.csv`, one row appended per scored
submission, and the ranking read from it. `leaderboard/README.md` defines every column.

The private score is stored but masked in every display (`display_rows`, which both the terminal
table and the page use) until the leaderboard is shown `final`. A reference row (`reference_row`:
a score made elsewhere, such as a past winner's) has no file and shows its scores at once.
"""

from __future__ import annotations

import csv
import math
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import HarnessError
from harness.specs import MetricSpec

ROWS = "leaderboard.csv"
HIDDEN = "hidden"
EXTERNAL = "external"  # the sha256 of a reference row: a score made elsewhere, no file scored here


@dataclass(frozen=True)
class Row:
    time: str  # UTC, ISO 8601 to the second: 2026-01-31T09:15:02Z
    sha256: str  # of the submission file's bytes; EXTERNAL for a reference row
    message: str
    source: str  # the run or ensemble folder the file came from, or ""
    cv_metric: str  # the metric of cv_score, from that folder's metrics.json, or ""
    cv_score: float | None
    public_score: float | None  # None: a reference row whose public score is not known
    private_score: float | None

    @property
    def day(self) -> str:
        return self.time[:10]

    @property
    def external(self) -> bool:
        return self.sha256 == EXTERNAL


@dataclass(frozen=True)
class Ranked:
    row: Row
    public_rank: int | None  # None when the row has no public score (a reference row)
    private_rank: int | None  # None when the row has no private score


COLUMNS = tuple(f.name for f in fields(Row))


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def read_rows(path: Path) -> list[Row]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise HarnessError(f"{path}: expected the columns {','.join(COLUMNS)}")
        try:
            return [Row(r["time"], r["sha256"], r["message"], r["source"], r["cv_metric"], _number(r["cv_score"]),
                        _number(r["public_score"]), _number(r["private_score"])) for r in reader]
        except ValueError as exc:
            raise HarnessError(f"{path}: line {reader.line_num}: {exc}") from None


def append_row(path: Path, row: Row) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in astuple(row)])


def used_on(rows: list[Row], now: datetime) -> int:
    """Submissions scored on `now`'s UTC day (reference rows are not submissions)."""
    day = stamp(now)[:10]
    return sum(r.day == day and not r.external for r in rows)


def reference_row(message: str, source: str, private: float | None, public: float | None, now: datetime) -> Row:
    """A score made elsewhere, such as a past competition's winner, ranked beside the submissions
    as a yardstick: marked EXTERNAL, with no file and no CV score."""
    if private is None and public is None:
        raise HarnessError("a reference row needs a private or a public score")
    if not message.strip():
        raise HarnessError("a reference row needs a message saying whose score it is")
    return Row(stamp(now), EXTERNAL, " ".join(message.split()), source, "", None, public, private)


def _order(scores: list[float | None], times: list[str], metric: MetricSpec) -> list[int | None]:
    """1-based ranks (ties: the earlier submission first); None for a missing score."""
    keyed = sorted((-metric.sign * s, t, i) for i, (s, t) in enumerate(zip(scores, times, strict=True))
                   if s is not None and not math.isnan(s))
    ranks: list[int | None] = [None] * len(scores)
    for rank, (_, _, i) in enumerate(keyed, start=1):
        ranks[i] = rank
    return ranks


def ranked(rows: list[Row], metric: MetricSpec, final: bool) -> list[Ranked]:
    """Rows by public rank, or by private rank once `final` (rows without one last)."""
    times = [r.time for r in rows]
    public = _order([r.public_score for r in rows], times, metric)
    private = _order([r.private_score for r in rows], times, metric)
    out = [Ranked(r, p, q) for r, p, q in zip(rows, public, private, strict=True)]

    def key(x: Ranked) -> tuple[bool, int, bool, int]:  # the rank ranked by first, then the other; missing ranks last
        a, b = (x.private_rank, x.public_rank) if final else (x.public_rank, x.private_rank)
        return a is None, a or 0, b is None, b or 0

    return sorted(out, key=key)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.5f}"


def _move(public: int | None, private: int | None) -> str:
    """Places gained from the public to the private ranking: +2, -1 or 0; "" without both ranks."""
    if public is None or private is None:
        return ""
    return f"{public - private:+d}" if public != private else "0"


def _rank(rank: int | None) -> str:
    return "" if rank is None else str(rank)


def display_rows(entries: list[Ranked], final: bool) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the ranking as every display shows it: the private score masked unless `final`."""
    if final:
        head = ["#", "public #", "shake-up", "private", "public", "cv", "message", "source", "time", "sha256"]
    else:
        head = ["#", "public", "private", "cv", "message", "source", "time", "sha256"]
    cells = []
    for e in entries:
        r = e.row
        cv = _fmt(r.cv_score) + (f" ({r.cv_metric})" if r.cv_metric and r.cv_score is not None else "")
        tail = [cv, r.message, r.source, r.time, r.sha256[:10]]
        if final:
            cells.append([_rank(e.private_rank), _rank(e.public_rank), _move(e.public_rank, e.private_rank),
                          _fmt(r.private_score), _fmt(r.public_score), *tail])
        else:
            private = _fmt(r.private_score) if r.external else HIDDEN if r.private_score is not None else ""
            cells.append([_rank(e.public_rank), _fmt(r.public_score), private, *tail])
    return head, cells
