"""Crash injection for the kill-and-resume tests: `HARNESS_DIE_AT_UPDATE=N` makes the process
(only rank `HARNESS_DIE_RANK` and fold `HARNESS_DIE_FOLD`, when set) SIGKILL itself right after optimizer update N, exactly
as a preempted machine would die. Unset, it costs one dictionary lookup per update."""

from __future__ import annotations

import os
import signal


def maybe_die(update: int, rank: int, fold: int) -> None:
    at = os.environ.get("HARNESS_DIE_AT_UPDATE")
    if at is None or int(at) != update:
        return
    for name, value in (("HARNESS_DIE_RANK", rank), ("HARNESS_DIE_FOLD", fold)):
        only = os.environ.get(name)
        if only is not None and int(only) != value:
            return
    os.kill(os.getpid(), signal.SIGKILL)
