"""Everything an exact resume restores, saved and restored in one place: the trainer state
(`TrainState.state_dict`), every stateful component (schedule, batch transforms, callbacks) and
the fp16 gradient scaler. The model, optimizer and per-process RNG states travel beside it in
the checkpoint (`harness.train.checkpoints`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.train.state import TrainState


@dataclass
class FoldResume:
    state: TrainState
    components: dict[str, Any]  # stable key -> object with state_dict/load_state_dict
    scaler: Any | None = None  # fp16 on a GPU

    def state_dict(self, epoch: int, step: int) -> dict[str, Any]:
        """`epoch` and `step`: where training continues (the next epoch with step 0 at an epoch end)."""
        return {
            "epoch": epoch, "step": step, "trainer": self.state.state_dict(),
            "components": {k: v.state_dict() for k, v in self.components.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
        }

    def load_state_dict(self, saved: dict[str, Any]) -> tuple[int, int]:
        """Restore everything; returns (epoch, step) to continue from."""
        self.state.load_state_dict(saved["trainer"])
        for key, component in self.components.items():
            component.load_state_dict(saved["components"][key])
        if self.scaler is not None and saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        return int(saved["epoch"]), int(saved["step"])
