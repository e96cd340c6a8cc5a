"""The plain sampler: every training image once per epoch, shuffled by (seed, epoch)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Sampler

from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class InstanceOptions:
    shuffle: bool = True  # a new order every epoch, from (seed, epoch); false: the fold's order


class ShuffleSampler(Sampler[int]):
    """A deterministic permutation per (seed, epoch): resuming an epoch replays the same order."""

    def __init__(self, n: int, seed: int, shuffle: bool = True):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def build(opts: InstanceOptions, ctx: BuildContext) -> ShuffleSampler:
    return ShuffleSampler(len(ctx.labels), ctx.seed, opts.shuffle)


@hookimpl
def harness_samplers() -> list[Component]:
    return [Component("instance", build, InstanceOptions, doc="every image once per epoch")]
