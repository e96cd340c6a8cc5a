"""One exception type for every error a user can fix; the CLI prints it on one line and exits 2.
And `suggest`, the "did you mean" every such message about a name offers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HarnessError(Exception):
    """A problem with the user's input (recipe, data, command line), reported without a traceback."""

    exit_code = 2


def _abbreviates(short: str, long: str) -> bool:
    words = [w for w in long.split("_") if w]
    return len(words) > 1 and "".join(w[0] for w in words) == short


def suggest(name: str, valid: Iterable[str]) -> str:
    """The nearest valid name, by spelling or as an abbreviation ('learning_rate' -> 'lr')."""
    options = list(valid)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if not close:
        close = [v for v in options if _abbreviates(v, name) or _abbreviates(name, v)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""
