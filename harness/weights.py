"""Load weights safely: safetensors, or pickles with `weights_only=True` (never arbitrary code)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from harness.errors import HarnessError

NESTED_KEYS = ("state_dict", "model", "model_state_dict", "module", "ema")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"weights file not found: {path}")
    if path.stat().st_size == 0:
        raise HarnessError(f"weights file is empty (0 bytes): {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise HarnessError(f"{path} is not a valid safetensors file: {exc}") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0]  # some errors (an empty file) have no message
        raise HarnessError(
            f"{path} could not be loaded with weights_only=True (refusing to run code from a pickle): "
            f"{type(exc).__name__}: {first_line}"
        ) from exc
    for key in NESTED_KEYS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise HarnessError(f"{path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> list[str]:
    """Load matching tensors; tensors whose shape differs (a new classifier head) are skipped.
    Returns the skipped model keys. Fails if under half of the model's tensors match."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < len(own) / 2:
        raise HarnessError(
            f"{where}: only {len(usable)} of {len(own)} tensors match the model; "
            "is it the right architecture?"
        )
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))
