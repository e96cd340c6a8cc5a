"""How much the command line says: one verbosity for the process, set by `harness -q` / `-v` (or the
environment variable `HARNESS_VERBOSITY`, so launched worker processes inherit it).

- quiet (-q): errors and each command's final result line only;
- normal: progress, notes and warnings;
- verbose (-v): also per-step detail and the traceback of an unexpected error.

Colour is rich's decision: only on a terminal, never when `NO_COLOR` is set. Importing this
module is cheap (no torch, no rich).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

QUIET, NORMAL, VERBOSE = -1, 0, 1
ENV = "HARNESS_VERBOSITY"
_warned: set[str] = set()


def verbosity() -> int:
    try:
        return max(QUIET, min(VERBOSE, int(os.environ.get(ENV, "0"))))
    except ValueError:
        return NORMAL


def set_verbosity(level: int) -> None:
    os.environ[ENV] = str(level)


def quiet() -> bool:
    return verbosity() <= QUIET


def verbose() -> bool:
    return verbosity() >= VERBOSE


def warn(message: str, once: bool = True, more: str = "") -> None:
    """`harness: warning: MESSAGE` on stderr, unless quiet; with `once`, each text only once a process
    (the plugin manager is built many times by one command). `more` (a traceback) follows it under
    -v only."""
    if quiet() or (once and message in _warned):
        return
    _warned.add(message)
    print(f"harness: warning: {message}", file=sys.stderr, flush=True)
    if more:
        detail(more)


def note(message: str) -> None:
    """A progress or status line on stderr, unless quiet."""
    if not quiet():
        print(message, file=sys.stderr, flush=True)


def detail(message: str) -> None:
    """A line only -v shows."""
    if verbose():
        print(message, file=sys.stderr, flush=True)


def progress_bar(main: bool) -> Progress:
    """A progress bar on stderr (each task's description, the bar, done of total, time left), drawn
    on a terminal by the main process only."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, disable=not (console.is_terminal and main))
