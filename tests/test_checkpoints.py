"""Checkpoints are complete or absent, verified by hashes, never hold NaN, and load safely."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from harness.errors import HarnessError
from harness.train.checkpoints import Checkpoints, rng_state, set_rng_state, valid


class FakeAccelerator:
    is_main_process = True
    num_processes = 1
    process_index = 0

    def wait_for_everyone(self) -> None:
        return None


def _saved(tmp_path: Path, updates: tuple[int, ...] = (2, 4)) -> tuple[Checkpoints, nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    ckpts = Checkpoints(tmp_path / "ckpt", FakeAccelerator(), keep=3)
    for u in updates:
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
        ckpts.save(u, model, opt, {"update": u, "history": [{"loss": 0.5}]})
    return ckpts, model, opt


def test_latest_is_newest_and_round_trips(tmp_path: Path) -> None:
    ckpts, model, opt = _saved(tmp_path)
    latest = ckpts.latest()
    assert latest is not None and latest.name == "step-00000004" and valid(latest)
    fresh = nn.Linear(3, 2)
    fresh_opt = torch.optim.AdamW(fresh.parameters())
    trainer = ckpts.load(latest, fresh, fresh_opt)
    assert trainer["update"] == 4 and all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True))
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert not list((tmp_path / "ckpt").glob(".tmp-*"))  # nothing half-written is left


def test_corrupt_or_truncated_newest_falls_back_with_warning(tmp_path: Path) -> None:
    ckpts, _, _ = _saved(tmp_path)
    newest = tmp_path / "ckpt" / "step-00000004" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:-7])  # truncated on disk
    with pytest.warns(UserWarning, match="step-00000004 is incomplete or corrupt"):
        assert ckpts.latest().name == "step-00000002"  # type: ignore[union-attr]


def test_missing_manifest_means_incomplete(tmp_path: Path) -> None:
    ckpts, _, _ = _saved(tmp_path)
    (tmp_path / "ckpt" / "step-00000004" / "manifest.json").unlink()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert ckpts.latest().name == "step-00000002"  # type: ignore[union-attr]


def test_old_checkpoints_deleted_only_after_new_one(tmp_path: Path) -> None:
    ckpts, _, _ = _saved(tmp_path, updates=(1, 2, 3, 4, 5))
    assert [p.name for p in ckpts._all()] == ["step-00000003", "step-00000004", "step-00000005"]


def test_no_checkpoint_holds_nan(tmp_path: Path) -> None:
    ckpts, model, opt = _saved(tmp_path, updates=(1,))
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(HarnessError, match="NaN or inf.*train.precision='fp32'"):
        ckpts.save(2, model, opt, {})
    assert ckpts.latest().name == "step-00000001"  # type: ignore[union-attr]


def test_rng_state_round_trips() -> None:
    import random

    import numpy as np

    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all() and a[2] == b[2]
