"""`log.jsonl`, a run's training record: one JSON object per fold and epoch (its "fold" key names
the fold). It has one writer: after every epoch, a fold rewrites its own lines atomically. So the
file is current while training runs, and exact after a resume (an epoch replayed after a crash
replaces its line instead of repeating it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.outputs.checkpoint import atomic_write

LOG = "log.jsonl"


def read_log(folder: Path) -> list[dict[str, Any]]:
    """Every epoch's row, in the order written; [] without a log."""
    path = folder / LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_fold_log(folder: Path, fold: int, history: Sequence[dict[str, Any]]) -> None:
    """The log with fold `fold`'s rows replaced by `history` (the other folds' rows kept)."""
    rows = [r for r in read_log(folder) if r.get("fold") != fold] + list(history)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(folder / LOG, lambda tmp: Path(tmp).write_text(text))
