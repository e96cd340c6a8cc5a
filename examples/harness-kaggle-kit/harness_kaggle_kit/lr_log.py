"""`lr_log`, a harness callback.

Logs each epoch's learning rates to `lr.csv` in the fold's folder of the run (`state.fold_dir`):
one row per epoch and parameter group (`epoch,group,part,lr`), the rate the group trained with at
the epoch's last update, after every schedule and callback factor. Only the main process writes
(`state.accelerator.is_main_process`): under `accelerate launch` every process runs the callback.

The rows live in the callback's `state_dict`, and the file is rewritten whole after each epoch, so
a run killed and resumed (`harness run --resume --out DIR`) ends with the same file as one that was
never interrupted: no epoch is missing or written twice.

    [callbacks.lr_log]
    file = "lr.csv"
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component, FoldState

COLUMNS = ("epoch", "group", "part", "lr")


@dataclass(frozen=True)
class LrLogOptions:
    file: str = "lr.csv"  # the CSV's name in each fold's folder of the run (foldK/)

    def validate(self, where: str) -> None:
        require(bool(self.file) and "/" not in self.file, f"{where}.file", "must be a file name, without a folder")


class LrLog(Callback):
    def __init__(self, file: str):
        self.file = file
        self.rows: list[dict[str, Any]] = []

    def on_fold_start(self, state: FoldState) -> None:
        self.rows = []  # a resumed fold gets its rows back from load_state_dict, which comes after

    def on_epoch_end(self, state: FoldState) -> None:
        for i, group in enumerate(state.optimizer.param_groups):
            self.rows.append({"epoch": state.epoch, "group": i, "part": str(group.get("part", "")), "lr": float(group["lr"])})
        if state.accelerator.is_main_process:
            with open(state.fold_dir / self.file, "w", newline="") as fh:
                writer = csv.DictWriter(fh, COLUMNS)
                writer.writeheader()
                writer.writerows(self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state.get("rows", [])]


def build(opts: LrLogOptions, ctx: BuildContext) -> LrLog:
    return LrLog(opts.file)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("lr_log", build, LrLogOptions, doc="each epoch's learning rates to foldK/lr.csv (main process)")]
