"""The hierarchy settings of a finished folder, and a trunk's branch runs, for `harness hierarchy`
and `harness predict --branch`.

A run's settings are its recipe's `data.hierarchy`, `data.level`, `data.branch`, `data.root` and
`data.train_dir`; an ensemble's are its members' (run.json's `extra["hierarchy"]`, written when
every member has the same), so that an ensemble of trunk runs routes to ensembles of branch runs
as a trunk run routes to branch runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.hierarchy.folders import load_tree
from harness.hierarchy.tree import Hierarchy

KEYS = ("hierarchy", "level", "branch", "root", "train_dir")


def hierarchy_settings(folder: Path) -> dict[str, Any]:
    """`folder`'s hierarchy settings (only those set); {} for a folder without a hierarchy."""
    from harness.config.recipe import run_recipe_section
    from harness.outputs.manifest import read_manifest

    data = run_recipe_section(folder, "data")
    if data:
        return {k: data[k] for k in KEYS if data.get(k)}
    return dict(read_manifest(folder).extra.get("hierarchy") or {})


def shared_settings(folders: Iterable[Path]) -> dict[str, Any]:
    """The hierarchy settings every one of `folders` has alike (an ensemble's members); {} otherwise."""
    settings = [hierarchy_settings(f) for f in folders]
    return settings[0] if settings and all(s == settings[0] for s in settings[1:]) else {}


def branch_runs(trunk: Path, branches: Sequence[Path], trunk_classes: Sequence[str]) -> dict[str, Path]:
    """Trunk node -> its branch folder: one clear line for a trunk that is not at level 1, a branch
    folder without `data.branch`, two for one node, or a trunk node without one."""
    if hierarchy_settings(trunk).get("level", 0) != 1:
        raise HarnessError(f"{trunk} is not a trunk run (data.level = 1), so it routes to no branch")
    out: dict[str, Path] = {}
    for b in branches:
        node = hierarchy_settings(b).get("branch", "")
        if not node:
            raise HarnessError(f"--branch {b}: its recipe sets no data.branch")
        if node in out:
            raise HarnessError(f"--branch {b}: a second branch run for {node!r}")
        out[node] = b
    missing = [n for n in trunk_classes if n not in out]
    if missing:
        raise HarnessError(f"the trunk's node(s) {missing} have no branch run (give one with --branch for each)")
    return out


def hierarchy_file(folder: Path, given: Path | None) -> str:
    file = str(given or hierarchy_settings(folder).get("hierarchy", ""))
    if not file:
        raise HarnessError(f"{folder} names no data.hierarchy (a recipe without it, or an ensemble of members that "
                           "differ): give the CSV with --file")
    return file


def run_tree(folder: Path, file: str, leaves: Sequence[str]) -> Hierarchy:
    """The tree in `file` over `leaves`, a relative path (or folder nesting) read from `folder`'s data root."""
    settings = hierarchy_settings(folder)
    return load_tree(file, Path(settings.get("root", ".")), settings.get("train_dir", "train"), tuple(leaves))


def routed_leaves(trunk_classes: Sequence[str], branch_classes: Mapping[str, Sequence[str]]) -> list[str]:
    """The leaves of a trunk and its branches, in the trunk's order of nodes."""
    return [c for n in trunk_classes for c in branch_classes[n]]
