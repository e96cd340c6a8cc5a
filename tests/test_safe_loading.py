"""Weights load without running code: a pickle that would run a command is refused before it
runs, while real state dicts (torch.save, nested checkpoints, safetensors) load."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from harness.errors import HarnessError
from harness.weights import read_state_dict


class TouchOnLoad:
    """Unpickling this calls Path.touch(marker): code execution, harmless but visible."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


class ShellOnLoad:
    """Unpickling this runs a shell command that creates the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch '{self.marker}'",))


def state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=g), "fc.bias": torch.randn(5, generator=g)}


def assert_same(loaded: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert sorted(loaded) == sorted(expected)
    for k, v in expected.items():
        assert torch.equal(loaded[k], v)


def test_payload_really_runs_code_when_unpickled_unsafely(tmp_path: Path) -> None:
    # guards the tests below: the planted pickle is a working exploit, not an inert file
    marker = tmp_path / "pwned"
    torch.save({"w": torch.zeros(1), "x": TouchOnLoad(marker)}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("payload", [TouchOnLoad, ShellOnLoad])
@pytest.mark.parametrize("wrap", ["bare", "beside_weights", "inside_state_dict"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, payload: type, wrap: str) -> None:
    marker = tmp_path / "pwned"
    evil = payload(marker)
    obj = {
        "bare": evil,
        "beside_weights": {"state_dict": state(), "extra": evil},
        "inside_state_dict": {"state_dict": {**state(), "fc.weight": evil}},
    }[wrap]
    torch.save(obj, tmp_path / "evil.pth")
    with pytest.raises(HarnessError, match="refusing to run code"):
        read_state_dict(tmp_path / "evil.pth")
    assert not marker.exists()


def test_plain_pickle_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.bin", "wb") as fh:
        pickle.dump(TouchOnLoad(marker), fh, protocol=2)
    with pytest.raises(HarnessError, match="weights_only=True"):
        read_state_dict(tmp_path / "evil.bin")
    assert not marker.exists()


def test_torch_save_state_dict_loads(tmp_path: Path) -> None:
    torch.save(state(), tmp_path / "w.pt")
    assert_same(read_state_dict(tmp_path / "w.pt"), state())


def test_data_parallel_prefix_is_dropped(tmp_path: Path) -> None:
    torch.save({f"module.{k}": v for k, v in state().items()}, tmp_path / "w.pth")
    assert_same(read_state_dict(tmp_path / "w.pth"), state())


@pytest.mark.parametrize("key", ["state_dict", "model", "model_state_dict", "ema"])
def test_nested_checkpoint_loads(tmp_path: Path, key: str) -> None:
    torch.save({key: state(), "epoch": 7, "best_score": 0.9}, tmp_path / "ckpt.pt")
    assert_same(read_state_dict(tmp_path / "ckpt.pt"), state())


def test_safetensors_loads(tmp_path: Path) -> None:
    save_file(state(), str(tmp_path / "w.safetensors"))
    assert_same(read_state_dict(tmp_path / "w.safetensors"), state())


@pytest.mark.parametrize("cut", ["empty", "header", "half", "one_byte_short"])
def test_corrupt_safetensors_is_an_error(tmp_path: Path, cut: str) -> None:
    save_file(state(), str(tmp_path / "w.safetensors"))
    data = (tmp_path / "w.safetensors").read_bytes()
    end = {"empty": 0, "header": 8, "half": len(data) // 2, "one_byte_short": len(data) - 1}[cut]
    (tmp_path / "w.safetensors").write_bytes(data[:end])
    with pytest.raises(HarnessError, match="w.safetensors"):
        read_state_dict(tmp_path / "w.safetensors")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", "truncated"])
def test_corrupt_pickle_is_an_error(tmp_path: Path, content: bytes | str) -> None:
    torch.save(state(), tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "w.pt").write_bytes(data[: len(data) // 2] if content == "truncated" else content)
    with pytest.raises(HarnessError, match="w.pt"):
        read_state_dict(tmp_path / "w.pt")


@pytest.mark.parametrize("obj", [{"epoch": 3}, [torch.zeros(1)], {1: torch.zeros(1)}])
def test_not_a_state_dict_is_an_error(tmp_path: Path, obj: object) -> None:
    torch.save(obj, tmp_path / "w.pt")
    with pytest.raises(HarnessError, match="does not hold a state dict"):
        read_state_dict(tmp_path / "w.pt")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not found"):
        read_state_dict(tmp_path / "nope.safetensors")
