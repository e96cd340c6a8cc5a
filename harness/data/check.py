"""Find every unreadable image before training starts (`harness data check DIR` reports them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.data.images import BadImage, load_rgb


def _probe(path: Path) -> None:
    load_rgb(path)


def scan(
    paths: Sequence[Path],
    workers: int = 2,
    decode: Callable[[Path], object] = _probe,
    progress: Callable[[int], None] | None = None,
) -> dict[int, str]:
    """Decode every path (in threads: PIL releases the GIL); return {index: reason} of bad ones."""
    bad: dict[int, str] = {}

    def one(i: int) -> tuple[int, str | None]:
        try:
            decode(paths[i])
            return i, None
        except BadImage as exc:
            return i, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, reason in pool.map(one, range(len(paths))):
            if reason is not None:
                bad[i] = reason
            if progress:
                progress(1)
    return bad
