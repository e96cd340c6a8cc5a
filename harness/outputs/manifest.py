"""`run.json`, a run's manifest: what every later tool (ensemble, submit, predict, a teacher)
reads instead of parsing CSV headers. Two runs are compatible exactly when their classes, ids
and fold assignments match; `check_compatible` names what differs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import HarnessError

MANIFEST = "run.json"
FORMAT = 1


@dataclass(frozen=True)
class IdSet:
    """A set of sample ids by count and hash (`harness.data.folds.ids_hash`)."""

    count: int
    sha256: str


@dataclass(frozen=True)
class RunManifest:
    kind: str  # "run" or "ensemble"
    classes: tuple[str, ...]
    metric: str
    higher_is_better: bool
    id_column: str
    folds: int  # K
    folds_sha256: str  # of the (id, fold) pairs: `harness.data.folds.folds_hash`
    folds_source: str  # "stratified", "group:COLUMN" or "file:PATH"
    cv_seed: int
    fraction: float  # data.fraction: 1.0 is the whole training set
    train: IdSet
    test: IdSet | None
    holdout: IdSet | None
    recipe_sha256: str = ""  # of the resolved recipe.toml
    harness_version: str = ""
    git_commit: str = ""  # the harness checkout's commit, "+dirty" when it had changes; "" outside git
    processes: int = 1
    global_batch: int = 0  # train.batch_size: images per optimizer step over all processes
    per_process_batch: int = 0
    grad_accum: int = 1
    lr: float = 0.0  # the effective base learning rate (train.lr, scaled when train.scale_lr)
    tta_views: tuple[str, ...] = ()
    folds_trained: tuple[int, ...] = ()
    members: tuple[str, ...] = ()  # an ensemble's member folders
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps({"format": FORMAT, **asdict(self)}, indent=1) + "\n")


def read_manifest(folder: Path) -> RunManifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise HarnessError(f"{folder} is not a finished run or ensemble folder (no {MANIFEST})")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path} cannot be read: {exc}") from exc
    if raw.pop("format", None) != FORMAT:
        raise HarnessError(f"{path} was written by another version of harness (format {raw.get('format')!r})")
    for key in ("train", "test", "holdout"):
        raw[key] = IdSet(**raw[key]) if raw.get(key) else None
    for key in ("classes", "tta_views", "folds_trained", "members"):
        raw[key] = tuple(raw.get(key, ()))
    try:
        return RunManifest(**raw)
    except TypeError as exc:
        raise HarnessError(f"{path} does not look like a harness manifest: {exc}") from exc


def git_commit() -> str:
    """The commit of the checkout harness runs from, with '+dirty' for uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def read_fold_table(folder: Path, id_column: str) -> pd.DataFrame:
    """A run's `folds.csv` as (id -> fold)."""
    table = pd.read_csv(folder / "folds.csv", dtype={id_column: str}, keep_default_na=False)
    return table.set_index(id_column)["fold"]


def check_compatible(runs: Mapping[str, Path]) -> RunManifest:
    """The first run's manifest, once every run has the same classes, ids and folds as it;
    otherwise a HarnessError that names the first difference, such as "run B's fold 3 has 12
    ids that run A puts in fold 1"."""
    names = list(runs)
    if not names:
        raise HarnessError("no runs given")
    manifests = {n: read_manifest(p) for n, p in runs.items()}
    first, ref = names[0], manifests[names[0]]
    for name in names[1:]:
        m = manifests[name]
        if m.classes != ref.classes:
            raise HarnessError(f"run {name}'s classes {list(m.classes)} differ from run {first}'s {list(ref.classes)}")
        for set_name in ("train", "test", "holdout"):
            a, b = getattr(ref, set_name), getattr(m, set_name)
            if (a is None) != (b is None) or (a and b and a != b):
                count = lambda s: "none" if s is None else f"{s.count} ids"  # noqa: E731
                raise HarnessError(f"run {name}'s {set_name} set ({count(b)}) is not run {first}'s ({count(a)}, "
                                   f"or the same number of other ids)")
        if m.folds_sha256 != ref.folds_sha256:
            raise HarnessError(_fold_difference(first, runs[first], ref, name, runs[name], m))
    return ref


def _fold_difference(a: str, a_dir: Path, ma: RunManifest, b: str, b_dir: Path, mb: RunManifest) -> str:
    if ma.folds != mb.folds:
        return f"run {b} has {mb.folds} folds and run {a} has {ma.folds}: they do not share folds (set cv.folds_file)"
    fa, fb = read_fold_table(a_dir, ma.id_column), read_fold_table(b_dir, mb.id_column)
    common = fa.index.intersection(fb.index)
    moved = pd.DataFrame({"a": fa.loc[common], "b": fb.loc[common]})
    moved = moved[moved.a != moved.b]
    if moved.empty:
        return f"runs {a} and {b} train on different ids (data.fraction {ma.fraction} vs {mb.fraction})"
    (fold_b, fold_a), n = moved.groupby(["b", "a"]).size().sort_values(ascending=False).index[0], \
        int(moved.groupby(["b", "a"]).size().max())
    return (f"run {b}'s fold {fold_b} has {n} ids that run {a} puts in fold {fold_a}: the runs do not share folds "
            f"(give both the same cv.seed, or cv.folds_file = \"{a_dir / 'folds.csv'}\")")


def id_set(ids: Sequence[str]) -> IdSet:
    from harness.data.folds import ids_hash

    return IdSet(len(ids), ids_hash(ids))


__all__ = ["RunManifest", "IdSet", "read_manifest", "check_compatible", "git_commit", "id_set", "MANIFEST"]
