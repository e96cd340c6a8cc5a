"""The images `harness predict` is given: files and folders (searched recursively), each named by
its path relative to the folder it was found in; every one decoded once before prediction, so an
unreadable image is named up front rather than failing a batch halfway."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from harness.data.check import scan
from harness.data.competition import IMAGE_EXTENSIONS, Split
from harness.errors import HarnessError


def collect(inputs: Sequence[Path]) -> Split:
    """An unlabelled split of every image under `inputs`, in sorted order per input; the id of a
    file is its path relative to the folder given (its name when the file itself is given)."""
    ids: list[str] = []
    paths: list[Path] = []
    for given in inputs:
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
                raise HarnessError(f"{given} holds no image files (looked for {kinds}, in subfolders too)")
            ids += [p.relative_to(given).as_posix() for p in found]
            paths += found
        elif given.is_file():
            ids.append(given.name)
            paths.append(given)
        else:
            raise HarnessError(f"{given}: no such file or folder")
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise HarnessError(f"two inputs give the same id {duplicates[0]!r}: predict one folder at a time")
    return Split(tuple(ids), tuple(paths), None)


def check_readable(split: Split, workers: int = 2) -> None:
    """A HarnessError that names every unreadable image (the first ten) and why."""
    refuse_unreadable(split, scan(split.paths, workers=workers))


def refuse_unreadable(split: Split, bad: dict[int, str]) -> None:
    """A HarnessError naming `split`'s unreadable images ({index: why}; the first ten), if any."""
    if bad:
        named = "; ".join(f"{split.paths[i]}: {why}" for i, why in sorted(bad.items())[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise HarnessError(f"{len(bad)} of {len(split)} image(s) cannot be read: {named}{more}")
