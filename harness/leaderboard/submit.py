"""`harness submit`: the daily limit, validation, scoring and the appended leaderboard row, in that
order; a refused file leaves no row and does not count against the limit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.errors import HarnessError
from harness.leaderboard.board import ROWS, Row, append_row, ranked, read_rows, stamp, used_on, utc_now
from harness.leaderboard.registry import Definition, checked_answer_key, find_definition
from harness.leaderboard.sample import expected_from
from harness.leaderboard.scoring import score_submission
from harness.leaderboard.validate import read_submission
from harness.specs import MetricSpec

RUN_MARKERS = ("metrics.json", "run.json")


@dataclass(frozen=True)
class Receipt:
    definition: Definition
    metric: MetricSpec
    row: Row
    public_rank: int
    entries: int
    used_today: int
    rows_path: Path


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    p, cwd = path.resolve(), Path.cwd().resolve()
    return p.relative_to(cwd).as_posix() if p.is_relative_to(cwd) else p.as_posix()


def provenance(submission: Path) -> tuple[str, str, float | None]:
    """(source folder, cv metric, cv score): the folder holding the file counts as its source when it
    holds a metrics.json or run.json; cv_score and metric come from metrics.json when present."""
    folder = submission.resolve().parent
    if not any((folder / m).is_file() for m in RUN_MARKERS):
        return "", "", None
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    metrics = metrics if isinstance(metrics, dict) else {}
    cv = metrics.get("cv_score")
    name = metrics.get("metric") or _manifest_metric(folder)  # run.json names the metric; older metrics.json did too
    name = name.get("name", "") if isinstance(name, dict) else name  # a metric written as an object
    score = float(cv) if isinstance(cv, int | float) and not isinstance(cv, bool) else None
    return _shown(folder), name if isinstance(name, str) else "", score


def _manifest_metric(folder: Path) -> str:
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    name = data.get("metric", "") if isinstance(data, dict) else ""
    return name if isinstance(name, str) else ""


def submit(submission: Path, name: str, board: Path, message: str = "", now: datetime | None = None) -> Receipt:
    from harness.metrics import get_metric

    now = now or utc_now()
    defn = find_definition(name, board)
    metric = get_metric(defn.metric)
    rows_path = board / name / ROWS
    rows = read_rows(rows_path)
    used = used_on(rows, now)
    if defn.daily_limit and used >= defn.daily_limit:
        raise HarnessError(f"the daily limit of {defn.daily_limit} submissions to {name!r} is reached "
                           f"({used} today, UTC); submit again after 00:00 UTC")
    checked_answer_key(defn)  # a missing or changed key is reported before the file is read
    sub = read_submission(submission, expected_from(defn))
    scores = score_submission(defn, sub, metric)
    source, cv_metric, cv = provenance(submission)
    digest = hashlib.sha256(submission.read_bytes()).hexdigest()
    row = Row(stamp(now), digest, " ".join(message.split()), source, cv_metric, cv, scores.public, scores.private)
    append_row(rows_path, row)
    rows.append(row)
    mine = next(e for e in ranked(rows, metric, final=False) if e.row is row)
    assert mine.public_rank is not None, "a scored submission always has a public score"
    return Receipt(defn, metric, row, mine.public_rank, len(rows), used + 1, rows_path)
