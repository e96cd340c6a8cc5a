"""The members of an ensemble: run or ensemble folders read into one `Pool`, every member's
per-view logits aligned on the same OOF, test and holdout rows.

A member's predictions are its folds' `fold{k}/logits.npz` (keys `oof/VIEW`, `oof_ids`,
`SET/VIEW`, `SET_ids`); an ensemble folder writes the same files with one view, "ensemble", whose
"logits" are log-probabilities. Labels come from the first member's `oof.csv` and `holdout.csv`.
Only the folds every member trained are used (`folds_trained` may be a subset)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.classes import class_index
from harness.errors import HarnessError
from harness.outputs.manifest import RunManifest, check_compatible, read_manifest
from harness.plugin_manager import Plugins
from harness.specs import Ensembler

SETS = ("test", "holdout")


@dataclass(frozen=True)
class Member:
    name: str
    folder: Path
    manifest: RunManifest
    views: tuple[str, ...]
    oof: dict[str, np.ndarray]  # view -> (N, C) float logits, rows in the pool's OOF order
    sets: dict[str, dict[str, np.ndarray]]  # "test"/"holdout" -> view -> (F, M, C) logits, one slice per pool fold
    # How the run pooled its TTA views (its recipe's ensembler), so the member scores as the run
    # did; None: the arithmetic mean (the default, and an ensemble folder's single view).
    view_pool: Ensembler | None = None


@dataclass(frozen=True)
class Pool:
    """Members aligned on the same rows: OOF rows of the folds every member trained, in the first
    member's `oof.csv` order; test and holdout rows in the first member's order."""

    manifest: RunManifest  # the first member's
    members: tuple[Member, ...]
    folds: tuple[int, ...]
    ids: tuple[str, ...]
    y: np.ndarray  # int class index per OOF row
    fold: np.ndarray  # fold per OOF row
    set_ids: dict[str, tuple[str, ...]]
    holdout_y: np.ndarray | None
    notes: tuple[str, ...] = ()


def member_names(folders: Sequence[Path]) -> list[str]:
    """Each folder's name; with its parent's where two names clash, then a number."""
    names = [f.name or str(f) for f in folders]
    if len(set(names)) < len(names):
        names = [f"{f.parent.name}/{f.name}" for f in folders]
    return [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]


def _labels(table: pd.DataFrame, classes: tuple[str, ...], where: Path) -> np.ndarray:
    return class_index(table["label"], classes, str(where), known="run.json's classes")


def _read_table(path: Path, id_col: str) -> pd.DataFrame:
    if not path.is_file():
        raise HarnessError(f"{path.parent} is not a finished run (no {path.name})")
    return pd.read_csv(path, dtype={id_col: str, "label": str}, keep_default_na=False)


def _folds_of(m: RunManifest) -> set[int]:
    return set(m.folds_trained) if m.folds_trained else set(range(m.folds))


def _align(ids: np.ndarray, order: dict[str, int], where: str) -> np.ndarray:
    """Positions of `ids` in the pool order; every id must be known."""
    pos = np.array([order.get(str(i), -1) for i in ids])
    if (pos < 0).any():
        raise HarnessError(f"{where} holds {int((pos < 0).sum())} id(s) the first member does not, e.g. {ids[pos < 0][0]!r}")
    return pos


def _read_member(name: str, folder: Path, manifest: RunManifest, folds: Sequence[int], ids: tuple[str, ...],
                 set_ids: dict[str, tuple[str, ...]], plugins: Plugins | None = None) -> Member:
    order = {i: n for n, i in enumerate(ids)}
    set_order = {s: {i: n for n, i in enumerate(v)} for s, v in set_ids.items()}
    oof: dict[str, np.ndarray] = {}
    sets: dict[str, dict[str, np.ndarray]] = {}
    views: tuple[str, ...] = ()
    for slot, k in enumerate(folds):
        path = folder / f"fold{k}" / "logits.npz"
        if not path.is_file():
            raise HarnessError(f"run {name} lists fold {k} as trained but has no {path}")
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        found = tuple(key.removeprefix("oof/") for key in arrays if key.startswith("oof/"))
        result = folder / f"fold{k}" / "result.json"
        if result.is_file():  # its order is the run's view order
            found = tuple(json.loads(result.read_text()).get("views", found))
        views = views or found
        if set(found) != set(views):
            raise HarnessError(f"run {name}'s fold {k} has TTA views {list(found)}, its fold {folds[0]} {list(views)}")
        rows = _align(arrays["oof_ids"], order, f"run {name}'s fold {k}")
        for v in views:
            oof.setdefault(v, np.full((len(ids), len(manifest.classes)), np.nan))[rows] = arrays[f"oof/{v}"]
        for s, pool_ids in set_ids.items():
            if f"{s}_ids" not in arrays:
                raise HarnessError(f"run {name}'s fold {k} has no {s} predictions")
            at = _align(arrays[f"{s}_ids"], set_order[s], f"run {name}'s fold {k} {s} set")
            if len(set(at.tolist())) != len(pool_ids):
                raise HarnessError(f"run {name}'s fold {k} predicts {len(set(at.tolist()))} of the {len(pool_ids)} {s} ids")
            for v in views:
                block = sets.setdefault(s, {}).setdefault(v, np.zeros((len(folds), len(pool_ids), len(manifest.classes))))
                block[slot, at] = arrays[f"{s}/{v}"]
    missing = int(np.isnan(oof[views[0]]).any(axis=1).sum())
    if missing:
        raise HarnessError(f"run {name}'s OOF predictions miss {missing} id(s) of folds {list(folds)}")
    return Member(name, folder, manifest, views, oof, sets, _view_pool(folder, plugins) if len(views) > 1 else None)


def _view_pool(folder: Path, plugins: Plugins | None) -> Ensembler | None:
    """The ensembler a run pooled its views and folds with (its recipe's `ensemble`), or None for
    the arithmetic mean."""
    from harness.config.recipe import run_recipe_section

    table = run_recipe_section(folder, "ensemble")  # {}: no recipe.toml, the mean
    name = table.get("name", "mean")
    if name == "mean":
        return None
    from harness.config.recipe import build_recipe
    from harness.plugin_manager import load_plugins

    if plugins is None or plugins.only is not None:  # a recipe is checked against every kind (its default model too)
        plugins = load_plugins()
    sel = build_recipe({"ensemble": table}, plugins).ensemble
    return plugins.ensembler(sel.name, sel.options)


def load_pool(folders: Sequence[Path], plugins: Plugins | None = None) -> Pool:
    """Read and align the members; a HarnessError when they are not compatible, the same run twice,
    or share no trained fold."""
    if not folders:
        raise HarnessError("no run folders given")
    names = member_names(folders)
    resolved = [f.resolve() for f in folders]
    for i, r in enumerate(resolved):
        if r in resolved[:i]:
            raise HarnessError(f"{folders[i]} is given twice (the same folder as {folders[resolved.index(r)]})")
    ref = check_compatible(dict(zip(names, folders, strict=True)))
    manifests = [read_manifest(f) for f in folders]
    folds = tuple(sorted(set.intersection(*(_folds_of(m) for m in manifests))))
    if not folds:
        trained = ", ".join(f"{n} {sorted(_folds_of(m))}" for n, m in zip(names, manifests, strict=True))
        raise HarnessError(f"the runs share no trained fold ({trained}): nothing to ensemble")
    notes = tuple(f"run {n} also trained fold(s) {sorted(_folds_of(m) - set(folds))}, left out: only folds every member "
                  f"trained are used" for n, m in zip(names, manifests, strict=True) if _folds_of(m) - set(folds))
    oof = _read_table(folders[0] / "oof.csv", ref.id_column)
    oof = oof[oof["fold"].isin(folds)]
    ids = tuple(oof[ref.id_column])
    set_ids: dict[str, tuple[str, ...]] = {}
    with np.load(folders[0] / f"fold{folds[0]}" / "logits.npz") as first:
        for s in SETS:
            if getattr(ref, s) is not None and f"{s}_ids" in first.files:
                set_ids[s] = tuple(str(i) for i in first[f"{s}_ids"])
    holdout_y = None
    if "holdout" in set_ids and (folders[0] / "holdout.csv").is_file():
        table = _read_table(folders[0] / "holdout.csv", ref.id_column).set_index(ref.id_column)
        holdout_y = _labels(table.loc[list(set_ids["holdout"])], ref.classes, folders[0] / "holdout.csv")
    members = tuple(_read_member(n, f, m, folds, ids, set_ids, plugins)
                    for n, f, m in zip(names, folders, manifests, strict=True))
    _check_distinct(members)
    return Pool(ref, members, folds, ids, _labels(oof, ref.classes, folders[0] / "oof.csv"),
                oof["fold"].to_numpy(dtype=np.int64), set_ids, holdout_y, notes)


def _check_distinct(members: Sequence[Member]) -> None:
    """Two folders with bitwise-identical OOF logits are one run given twice (a copy)."""
    for i, a in enumerate(members):
        for b in members[:i]:
            if a.views == b.views and all(np.array_equal(a.oof[v], b.oof[v]) for v in a.views):
                raise HarnessError(f"runs {b.name} and {a.name} hold identical OOF predictions: the same run given twice")
