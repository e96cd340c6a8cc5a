"""Where a run trains: a GPU when there is one for each local process, unless the launch asked
for the CPU; and several runs in one process may each pick their own precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.config.recipe import load_recipe
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.runtime import precision
from harness.runtime.accelerator import make_accelerator
from harness.runtime.device import on_gpu


def _gpus(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_one_process_per_gpu_or_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpus(monkeypatch, 1)
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert on_gpu()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(HarnessError, match=r"2 processes on this machine but 1 GPU\(s\).*CUDA_VISIBLE_DEVICES="):
        on_gpu()
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")  # accelerate launch --cpu
    assert not on_gpu()
    _gpus(monkeypatch, 0)
    monkeypatch.delenv("ACCELERATE_USE_CPU")
    assert not on_gpu()


def test_a_second_run_in_the_process_may_change_precision(tmp_path: Path) -> None:
    """Accelerate refuses a second precision in one process unless its state is reset first."""
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(f'[data]\nroot = "{tmp_path}"\n')
    plugins = load_plugins()
    precisions = []
    for value in ("bf16", "fp32", "bf16"):
        acc = make_accelerator(load_recipe(recipe_path, [f"train.precision='{value}'"], plugins))
        precisions.append(acc.mixed_precision)
    assert precisions == ["bf16", "no", "bf16"]


def test_auto_precision_is_bf16_only_where_it_is_fast_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(precision.AUTO_ENV, raising=False)  # the suite pins auto to fp32; this is about the CPU rule
    assert precision.has_native_bf16("flags : fpu amx_bf16 amx_tile avx512_bf16")
    assert precision.has_native_bf16("flags : fpu avx512f avx512_bf16")  # the CIFAR-10 recipe: 1.8x end to end
    assert not precision.has_native_bf16("flags : fpu avx2 avx512f avx512bw")  # emulated: 0.45x fp32
    assert not precision.has_native_bf16("flags : fpu avx2")  # emulated: 0.15x fp32
    assert not precision.has_amx("flags : fpu avx512f avx512_bf16")
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.resolve("auto", cuda=False) == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.resolve("auto", cuda=False) == "no"
    assert precision.resolve("bf16", cuda=False) == "bf16"  # asked for by name: honoured
    assert precision.resolve("auto", cuda=True, bf16_gpu=False) == "fp16"
    with pytest.raises(HarnessError, match="fp16 needs a GPU"):
        precision.resolve("fp16", cuda=False)
