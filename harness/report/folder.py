"""What a report reads from a finished run folder or an ensemble folder (`harness.ensemble.write`):
`run.json`, `metrics.json`, `recipe.toml`, `log.jsonl`, `oof.csv` and each fold's `result.json`
and `logits.npz`. Missing optional files become empty values, so a page can say "not recorded"
rather than fail."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data.classes import class_index
from harness.errors import HarnessError
from harness.metrics import softmax
from harness.outputs.epoch_log import read_log
from harness.outputs.manifest import RunManifest, read_manifest


@dataclass(frozen=True)
class FoldFiles:
    fold: int
    result: dict[str, Any]  # result.json: score, best_weights, candidate_scores, views, ...
    oof_ids: tuple[str, ...]
    first_view_probs: np.ndarray | None  # softmax of the first TTA view's OOF logits: the score without TTA


@dataclass(frozen=True)
class RunFolder:
    path: Path
    manifest: RunManifest
    metrics: dict[str, Any]
    recipe_text: str  # "" for an ensemble folder
    recipe: dict[str, Any]  # recipe.toml, parsed (a member's for an ensemble, for data.root)
    history: list[dict[str, Any]]  # one row per fold and epoch (log.jsonl)
    oof: pd.DataFrame  # id, label, fold, one probability column per class
    folds: list[FoldFiles]
    ensemble: dict[str, Any]  # ensemble.json of an ensemble folder, else {}

    @property
    def is_ensemble(self) -> bool:
        return self.manifest.kind == "ensemble"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.manifest.classes

    def labels(self) -> np.ndarray:
        """The OOF rows' true classes as indices."""
        return class_index(self.oof["label"], [str(c) for c in self.classes], "oof.csv")

    def probs(self) -> np.ndarray:
        return self.oof[[str(c) for c in self.classes]].to_numpy(dtype=np.float64)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _history(folder: Path, folds: list[FoldFiles]) -> list[dict[str, Any]]:
    rows = read_log(folder)
    if rows:
        return rows
    return [h for f in folds for h in f.result.get("history", [])]


def _fold(folder: Path, k: int) -> FoldFiles:
    result = _json(folder / f"fold{k}" / "result.json")
    ids: tuple[str, ...] = ()
    probs = None
    views = result.get("views") or []
    try:
        with np.load(folder / f"fold{k}" / "logits.npz") as arrays:
            ids = tuple(str(i) for i in arrays["oof_ids"])
            if views and f"oof/{views[0]}" in arrays.files:
                probs = softmax(arrays[f"oof/{views[0]}"].astype(np.float64))
    except (OSError, ValueError, KeyError):
        pass
    return FoldFiles(k, result, ids, probs)


def _member_recipe(manifest: RunManifest) -> dict[str, Any]:
    """An ensemble's data.root lives in its members' recipes."""
    for member in manifest.members:
        path = Path(member) / "recipe.toml"
        if path.is_file():
            return tomllib.loads(path.read_text())
    return {}


def read_run_folder(folder: Path) -> RunFolder:
    manifest = read_manifest(folder)  # a HarnessError without run.json
    oof_path = folder / "oof.csv"
    if not oof_path.is_file():
        raise HarnessError(f"{folder} has no oof.csv: there is nothing to report")
    oof = pd.read_csv(oof_path, dtype={manifest.id_column: str, "label": str}, keep_default_na=False)
    oof = oof.rename(columns={manifest.id_column: "id"})
    recipe_file = folder / "recipe.toml"
    text = recipe_file.read_text() if recipe_file.is_file() else ""
    recipe = tomllib.loads(text) if text else _member_recipe(manifest)
    folds = [_fold(folder, k) for k in manifest.folds_trained]
    return RunFolder(
        path=folder, manifest=manifest, metrics=_json(folder / "metrics.json"), recipe_text=text, recipe=recipe,
        history=_history(folder, folds), oof=oof, folds=folds, ensemble=_json(folder / "ensemble.json"),
    )
