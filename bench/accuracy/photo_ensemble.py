"""The --ensemble rows of accuracy.py: each seed's `harness ensemble` (through the CLI) of that
seed's harness arms, which share their folds. val/ is scored from the ensemble's holdout.csv; any
other split from the members' own probabilities weighted as ensemble.json says, checked against
the CLI on val/. The members come from the runs just trained, or (--rescore) from the finished
runs of an earlier invocation."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import last_cpu_seconds, timed
from labelled import SPLITS, holdout_probs, scores, split_probs

ROOT = Path(__file__).resolve().parents[2]


# Per (set, seed): each harness arm's run folder and its (labels, probabilities) on every split,
# for the --ensemble row. Kept in memory only.
MEMBERS: dict[tuple[str, int], dict[str, tuple[Path, float, dict[str, tuple[np.ndarray, np.ndarray]]]]] = {}


ALL_SEEDS = -1  # run_ensemble's seed for one ensemble of every seed's members


def ensemble_arm(method: str, all_seeds: bool = False) -> str:
    """The row's arm: `ensemble` for the mean, `ensemble_METHOD` (options as `_KEY_VALUE`) else."""
    name, _, options = method.partition(":")
    tail = "".join(f"_{o.replace('=', '_')}" for o in options.split(",") if o)
    return ("ensemble" if name == "mean" else f"ensemble_{name}") + tail + ("_all_seeds" if all_seeds else "")


def method_options(method: str) -> tuple[str, list[str]]:
    """`hill_climb:init=all,bags=5` -> ("hill_climb", ["--option", "init=all", "--option", "bags=5"])."""
    name, _, options = method.partition(":")
    return name, [a for o in options.split(",") if o for a in ("--option", o)]


def members_of(set_name: str, seed: int) -> dict[str, tuple[Path, float, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """The seed's members by arm, or (ALL_SEEDS) every seed's, named ARM-SEED: runs of one recipe
    that differ in train.seed share their folds (cv.seed), so their OOF rows line up."""
    if seed != ALL_SEEDS:
        return MEMBERS.get((set_name, seed), {})
    return {f"{arm}-{s}": m for (name, s), arms in sorted(MEMBERS.items()) if name == set_name for arm, m in arms.items()}


def run_ensemble(set_name: str, seed: int, scratch: Path, method: str = "mean", rescore: bool = False,
                 ) -> dict[str, Any] | None:
    """`harness ensemble --method METHOD` of the seed's harness arms (or, seed ALL_SEEDS, of every
    seed's): val/ from its holdout.csv, any other split from the members' probabilities weighted as
    ensemble.json says (checked against the CLI's holdout.csv on val/). A rescore writes beside the
    first invocation's ensemble, in a folder of its own (NAME-rescore, made anew each time)."""
    members = members_of(set_name, seed)
    if len(members) < 2:
        return None
    out = scratch / f"{ensemble_arm(method)}-{set_name}-{'all' if seed == ALL_SEEDS else seed}{'-rescore' if rescore else ''}"
    if rescore:
        shutil.rmtree(out, ignore_errors=True)
    dirs = [str(d) for d, _, _ in members.values()]
    name, options = method_options(method)
    _, wall, _ = timed([sys.executable, "-m", "harness", "ensemble", *dirs, "--out", str(out), "--method", name, *options],
                       ROOT)
    cpu = last_cpu_seconds()
    plan = json.loads((out / "ensemble.json").read_text())
    weights = np.array([m["weight"] for m in plan["members"]], dtype=float)
    if plan["temperature"] != 1.0 or plan["power"] != 1.0 or len(weights) != len(members):
        raise SystemExit(f"{out}: only plain weighted means of the members are rescored here")
    weights /= weights.sum()

    def pooled(split: str) -> np.ndarray:
        return np.tensordot(weights, np.stack([p[split][1] for _, _, p in members.values()]), axes=1)

    y, cli = holdout_probs(out)
    gap = float(np.abs(cli - pooled("val")).max())
    if gap > 1e-5:  # ensemble.json rounds its weights to 6 places
        raise SystemExit(f"{out}: the CLI's holdout probabilities differ from the members' weighted mean by {gap:.2g}")
    splits = {"val": scores(y, cli)}
    for split in SPLITS[set_name][1:]:
        splits[split] = scores(next(iter(members.values()))[2][split][0], pooled(split))
    cv = json.loads((out / "metrics.json").read_text())["cv_score"]
    # Its wall: the members' runs and the ensembling, what a user waits for from nothing.
    return {"members": list(members), "weights": dict(zip(members, weights.round(4).tolist(), strict=True)),
            "ensemble_dir": str(out), "cv": cv, "cv_nested": plan["scores"].get("oof_nested"), "splits": splits,
            "wall_s": wall + sum(w for _, w, _ in members.values()), "cpu_s": cpu, "ensemble_wall_s": wall}


def reload_members(data: Path, seed: int, scratch: Path, arms: Sequence[str]) -> None:
    """MEMBERS of a finished invocation (--rescore): each arm's run folder in `scratch`, its val/
    from holdout.csv and any other split predicted again."""
    for arm in arms:
        out = scratch / f"{arm}-{data.name}-{seed}"
        if arm == "bare" or not (out / "metrics.json").is_file():
            continue
        probs = split_probs(out, data)
        wall = json.loads((out / "metrics.json").read_text())["wall_seconds"]
        MEMBERS.setdefault((data.name, seed), {})[arm] = (out, wall, probs)
