"""`harness competition new`: make a competition and register its definition.

From a labelled ImageFolder the competition folder is written first (`from_folder`); a folder that
is already Kaggle-style (`train.csv`, `sample_submission.csv`, `private/solution.csv`, such as the
one `harness data digits` writes) is registered as it is.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from harness.data.classes import sort_classes
from harness.data.kaggle_tables import ANSWER_KEY
from harness.errors import HarnessError
from harness.leaderboard.from_folder import convert_imagefolder, is_imagefolder
from harness.leaderboard.registry import (
    DEFINITION,
    KINDS,
    Definition,
    candidates,
    check_name,
    read_definition,
    sha256_file,
    write_definition,
)
from harness.specs import MetricSpec


@dataclass(frozen=True)
class Options:
    metric: str = "accuracy"
    kind: str = ""  # "" -> "probability" when the metric needs probabilities, else "label"
    seed: int = 0
    public: float = 0.5
    daily_limit: int = 5
    link: bool = False
    force: bool = False


@dataclass(frozen=True)
class Made:
    definition: Definition
    written: bool  # False: an identical definition was already registered
    notes: tuple[str, ...]


def is_kaggle_folder(src: Path) -> bool:
    return all((src / f).is_file() for f in ("train.csv", "sample_submission.csv", ANSWER_KEY))


def _relative(target: Path, start: Path) -> str:
    """`target` relative to `start` when both sit under the working directory (so the path holds in a
    fresh clone), else absolute."""
    cwd, t, s = Path.cwd().resolve(), target.resolve(), start.resolve()
    if t.is_relative_to(cwd) and s.is_relative_to(cwd):
        return Path(os.path.relpath(t, s)).as_posix()
    return t.as_posix()


def _kaggle_facts(src: Path) -> tuple[str, tuple[str, ...], str, str, str]:
    """(kind, classes, id column, label column, extension) of a Kaggle-style folder."""
    sample = pd.read_csv(src / "sample_submission.csv", dtype=str, keep_default_na=False, nrows=1)
    train = pd.read_csv(src / "train.csv", dtype=str, keep_default_na=False)
    key = pd.read_csv(src / ANSWER_KEY, dtype=str, keep_default_na=False)
    cols = list(sample.columns)
    kind = "label" if len(cols) == 2 else "probability"
    id_col, label_col = cols[0], cols[1] if kind == "label" else "label"
    if len(cols) < 2 or not {id_col, label_col} <= set(train.columns):
        raise HarnessError(f"{src}: train.csv needs the columns {id_col!r} and {label_col!r}")
    if not {id_col, label_col, "Usage"} <= set(key.columns):
        raise HarnessError(f"{src / ANSWER_KEY}: expected the columns {id_col}, {label_col}, Usage")
    classes = sort_classes(train[label_col].tolist())
    if kind == "probability":
        if sorted(cols[1:]) != sorted(classes):
            raise HarnessError(f"{src}/sample_submission.csv: the class columns differ from train.csv's labels")
        classes = tuple(cols[1:])
    if not set(key[label_col]) <= set(classes):
        raise HarnessError(f"{src / ANSWER_KEY}: holds labels that are not among train.csv's classes")
    test = src / "test"
    suffixes = Counter(p.suffix for p in test.iterdir() if p.is_file()) if test.is_dir() else Counter()
    return kind, classes, id_col, label_col, suffixes.most_common(1)[0][0] if suffixes else ".png"


def _check_kind(metric: MetricSpec, kind: str) -> None:
    if kind not in KINDS:
        raise HarnessError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if metric.needs_probs and kind == "label":
        raise HarnessError(f"metric {metric.name} needs probabilities; a label competition cannot use it")


def new_competition(name: str, src: Path, out: Path | None, board: Path, opts: Options, command: str,
                    made_by: str = "") -> Made:
    """Register `src` as competition `name` in `board` (an ImageFolder is first written as a competition
    folder by `command`); `made_by`: the command that wrote a Kaggle-style `src`, for errors to name."""
    from harness.metrics import get_metric

    check_name(name)
    metric = get_metric(opts.metric)
    kind = opts.kind or ("probability" if metric.needs_probs else "label")
    _check_kind(metric, kind)
    path = board / name / DEFINITION
    if path.is_file() and not opts.force:
        raise HarnessError(f"{path} already defines {name!r}; add --force to replace it")
    notes: list[str] = []
    if is_kaggle_folder(src):
        if out is not None and out.resolve() != src.resolve():
            raise HarnessError(f"{src} is already a competition folder; it is registered as it is, without --out")
        found_kind, classes, id_col, label_col, ext = _kaggle_facts(src)
        if opts.kind and opts.kind != found_kind:
            raise HarnessError(f"--kind {opts.kind}: {src}/sample_submission.csv makes it a {found_kind} competition")
        kind, folder = found_kind, src
        _check_kind(metric, kind)
    elif is_imagefolder(src):
        folder = out if out is not None else Path("data") / name
        conv = convert_imagefolder(src, folder, kind=kind, seed=opts.seed, public=opts.public, link=opts.link)
        classes, id_col, label_col, ext, made_by = conv.classes, "id", "label", conv.extension, command
        notes.append(f"wrote {conv.train} train and {conv.test} test images (from {conv.holdout}/) to {folder}")
        if conv.renamed:
            notes.append(f"{conv.renamed} file(s) of another format keep their bytes under the {ext} name")
    else:
        raise HarnessError(f"{src}: neither a labelled ImageFolder (train/CLASS/* and val/ or test/) nor a "
                           f"Kaggle-style folder (train.csv, sample_submission.csv, {ANSWER_KEY})")
    key, sample = folder / ANSWER_KEY, folder / "sample_submission.csv"
    defn = Definition(
        name=name, metric=metric.name, kind=kind, classes=classes, id_column=id_col, label_column=label_col, extension=ext,
        answer_key=_relative(key, path.parent), answer_key_sha256=sha256_file(key),
        sample_submission=_relative(sample, path.parent), daily_limit=opts.daily_limit, made_by=made_by, path=path,
    )
    for other in candidates(name, board):
        if other != path and other.is_file():
            shipped = read_definition(other)
            if shipped.answer_key_sha256 == defn.answer_key_sha256 and shipped.answer_key_path.resolve() == key.resolve():
                return Made(shipped, False, (*notes, f"{name} is already registered in {other} with this answer key"))
            notes.append(f"this definition shadows {other}")
    if ext != ".png":
        notes.append(f"train on it with `--set data.root={folder} --set data.extension={ext}`")
    return Made(replace(defn, path=write_definition(defn)), True, tuple(notes))
