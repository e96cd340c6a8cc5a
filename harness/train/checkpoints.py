"""Resumable training state, written atomically with a manifest of hashes.

A checkpoint is a folder `step-UUUUUUUU`: the model (safetensors), the optimizer and the trainer
state (torch files of tensors and plain data, loaded with `weights_only=True`), one RNG file per
process, and `manifest.json` with the SHA-256 of every file. It is written under a temporary name
and renamed into place, so a folder with a name is complete; older ones are deleted only after.
A checkpoint that fails its manifest is skipped with a warning and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from harness.errors import HarnessError

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def assert_finite(tensors: Mapping[str, torch.Tensor], what: str) -> None:
    for name, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise HarnessError(
                f"refusing to checkpoint {what}: tensor {name} holds NaN or inf although no loss was: a gradient "
                "overflowed or a kernel returned garbage (bf16 on a CPU can get the convolution gradient "
                "of 1-pixel inputs wrong); try train.precision='fp32', a lower train.lr or train.clip_grad")


def _optimizer_tensors(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": v for k, s in state["state"].items() for n, v in s.items() if isinstance(v, torch.Tensor)}


def valid(folder: Path) -> bool:
    manifest = folder / MANIFEST
    try:
        expected = json.loads(manifest.read_text())
        return all(sha256(folder / name) == digest for name, digest in expected.items())
    except (OSError, ValueError):
        return False


class Checkpoints:
    """The checkpoint folders of one fold; `keep` newest are kept."""

    def __init__(self, folder: Path, accelerator: Any, keep: int = 2):
        self.folder, self.acc, self.keep = folder, accelerator, keep

    def _all(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.is_dir() and p.name.startswith("step-"))

    def save(self, update: int, model: nn.Module, optimizer: Any, trainer: dict[str, Any]) -> Path:
        acc = self.acc
        final = self.folder / f"step-{update:08d}"
        tmp = self.folder / f".tmp-step-{update:08d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        torch.save(rng_state(), tmp / f"rng-{acc.process_index}.pt")
        if acc.is_main_process:
            from safetensors.torch import save_model

            weights = model.state_dict()
            optim_state = optimizer.state_dict()
            assert_finite(weights, "model")
            assert_finite(_optimizer_tensors(optim_state), "optimizer")
            save_model(model, str(tmp / "model.safetensors"))
            torch.save(optim_state, tmp / "optimizer.pt")
            torch.save(trainer, tmp / "trainer.pt")
        acc.wait_for_everyone()
        if acc.is_main_process:
            files = sorted(p.name for p in tmp.iterdir())
            (tmp / MANIFEST).write_text(json.dumps({f: sha256(tmp / f) for f in files}, indent=1))
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            for old in self._all()[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def latest(self) -> Path | None:
        """The newest checkpoint that passes its manifest (decided on the main process)."""
        from accelerate.utils import broadcast_object_list

        chosen: list[str] = [""]
        if self.acc.is_main_process:
            for folder in reversed(self._all()):
                if valid(folder):
                    chosen = [str(folder)]
                    break
                warnings.warn(f"checkpoint {folder} is incomplete or corrupt; using the previous one", stacklevel=2)
        if self.acc.num_processes > 1:
            broadcast_object_list(chosen)
        return Path(chosen[0]) if chosen[0] else None

    def load(self, folder: Path, model: nn.Module, optimizer: Any) -> dict[str, Any]:
        from safetensors.torch import load_model

        load_model(model, str(folder / "model.safetensors"), device=str(next(model.parameters()).device))
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True))
        trainer: dict[str, Any] = torch.load(folder / "trainer.pt", map_location="cpu", weights_only=True)
        trainer["rng"] = torch.load(folder / f"rng-{self.acc.process_index}.pt", weights_only=True)
        return trainer
