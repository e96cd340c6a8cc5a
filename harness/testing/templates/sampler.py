"""The `sampler` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

A random subset of the fold each epoch, without replacement (the "epoch fraction" of
large-data training): shorter epochs, every image still seen over a few of them. The draw is one
global sequence per (seed, epoch), the same on every process, so Accelerate can shard it and a
resumed epoch replays it.

    [sampler]
    name = "__NAME__"
    fraction = 0.5
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Sampler

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    fraction: float = 0.5  # share of the fold's images drawn each epoch

    def validate(self, where: str) -> None:
        require(0.0 < self.fraction <= 1.0, f"{where}.fraction", "must be in (0, 1]")


class __CLASS__(Sampler[int]):
    def __init__(self, n: int, fraction: float, seed: int):
        self.n, self.size, self.seed, self.epoch = n, max(1, round(n * fraction)), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[: self.size].tolist())


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(len(ctx.labels), opts.fraction, ctx.seed)


@hookimpl
def harness_samplers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: a random subset of the fold each epoch")]
'''

TEST = '''

def test_no_repeats_within_an_epoch() -> None:
    draw = list(__MODULE__.__CLASS__(100, 0.3, seed=0))
    assert len(draw) == len(set(draw)) == 30
'''

TEMPLATE = Template("sampler", MODULE, TEST, "", "an epoch subset sampler")
