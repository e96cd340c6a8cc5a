"""Pin what a refactor must not change: the digits quickstart's and a hymenoptera `finetune.toml`
run's `oof.csv`, `submission.csv` (and `holdout.csv`) and every fold's logits, as SHA-256 digests.

    python bench/tools/pin_outputs.py record    # before the first move: writes results/pinned_outputs.json
    python bench/tools/pin_outputs.py check     # after: exit 1 and the differing files unless byte-identical

Both runs go through the real CLI from the repository root with `train.precision` as the recipes
say (auto: fp32 on a CPU without AMX or AVX-512 BF16). Floating-point bytes depend on the CPU and the torch
build, so `check` compares only against a record made on the same CPU model and torch; it says so
and stops otherwise. A fold's logits are hashed array by array (name, dtype, shape, bytes): the
`.npz` container's zip timestamps are not part of the behaviour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import RESULTS, cpu, timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PINNED = RESULTS / "pinned_outputs.json"
HYMENOPTERA = ROOT.parent / "shared" / "data" / "hymenoptera"


def _digest(path: Path) -> str:
    if path.suffix == ".npz":
        h = hashlib.sha256()
        with np.load(path) as arrays:
            for key in sorted(arrays.files):
                a = np.ascontiguousarray(arrays[key])
                h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
                h.update(a.tobytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_digests(run: Path) -> dict[str, str]:
    names = ["oof.csv", "submission.csv", "holdout.csv", *sorted(str(p.relative_to(run)) for p in run.glob("fold*/logits.npz"))]
    return {name: _digest(run / name) for name in names if (run / name).is_file()}


def _runs(work: Path) -> dict[str, dict[str, str]]:
    harness = [sys.executable, "-m", "harness", "-q"]
    timed([*harness, "data", "digits", str(work / "digits")], ROOT)
    timed([*harness, "run", "recipes/digits.toml", "--set", f"data.root='{work / 'digits'}'", "--out", str(work / "digits-run")],
          ROOT)
    out = {"digits": _run_digests(work / "digits-run")}
    if HYMENOPTERA.is_dir():
        timed([*harness, "run", "recipes/finetune.toml", "--set", f"data.root='{HYMENOPTERA}'", "--out",
               str(work / "finetune-run")], ROOT)
        out["hymenoptera_finetune"] = _run_digests(work / "finetune-run")
    return out


def _torch() -> str:
    import torch

    return torch.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["record", "check"])
    args = parser.parse_args()
    where: dict[str, Any] = {"cpu": cpu(), "torch": _torch()}
    if args.mode == "check":
        if not PINNED.is_file():
            raise SystemExit(f"no {PINNED}: run `record` first, before the change")
        pinned = json.loads(PINNED.read_text())
        if {k: pinned[k] for k in where} != where:
            raise SystemExit(f"pinned on {pinned['cpu']}, torch {pinned['torch']}; this is {where['cpu']}, torch "
                             f"{where['torch']}: floating-point bytes differ across machines, record again before the change")
    with tempfile.TemporaryDirectory() as tmp:
        runs = _runs(Path(tmp))
    if args.mode == "record":
        PINNED.write_text(json.dumps({**where, "runs": runs}, indent=1) + "\n")
        print(f"pinned {sum(len(v) for v in runs.values())} files of {len(runs)} runs in {PINNED}")
        return
    differ = [f"{run}/{name}" for run, files in pinned["runs"].items() for name, digest in files.items()
              if runs.get(run, {}).get(name) != digest]
    missing = [f"{run}/{name}" for run, files in runs.items() for name in files if name not in pinned["runs"].get(run, {})]
    if differ or missing:
        print("differ: " + ", ".join(differ) + ("; not pinned: " + ", ".join(missing) if missing else ""))
        raise SystemExit(1)
    print(f"byte-identical: {sum(len(v) for v in runs.values())} files of {len(runs)} runs")


if __name__ == "__main__":
    main()
