"""Another process of a launch, as a callback sees it, on one real process: what a contract uses to
check that a callback writes its files on the main process only."""

from __future__ import annotations

from typing import Any


class OtherRank:
    """The real single-process `accelerate.Accelerator` as process `rank` of `world` would see it:
    `is_main_process` and `is_local_main_process` are False for rank > 0, and `process_index`,
    `local_process_index` and `num_processes` say `rank` and `world`. Everything else (`device`,
    `autocast`, `gather`, `wait_for_everyone`, ...) is the real accelerator's, so collectives act as
    they do on one process: this checks where a callback writes, not its communication."""

    def __init__(self, accelerator: Any, rank: int, world: int):
        if not 0 < rank < world:
            raise ValueError(f"rank {rank} of {world}: another rank is 1 .. world - 1")
        self._accelerator, self._rank, self._world = accelerator, rank, world

    @property
    def is_main_process(self) -> bool:
        return False

    @property
    def is_local_main_process(self) -> bool:
        return False

    @property
    def process_index(self) -> int:
        return self._rank

    @property
    def local_process_index(self) -> int:
        return self._rank

    @property
    def num_processes(self) -> int:
        return self._world

    def __getattr__(self, name: str) -> Any:
        return getattr(self._accelerator, name)
