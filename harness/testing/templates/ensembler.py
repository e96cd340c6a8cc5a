"""The `ensembler` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

The weighted power mean of probabilities, (sum_i w_i p_i^k / sum_i w_i)^(1/k) per cell,
rows renormalized. k = 1 is the arithmetic mean; a larger k leans towards the most confident member.
Inputs and output are float (N, C) arrays on the host whose rows sum to 1.

    [ensemble]
    name = "__NAME__"
    power = 2.0

or across runs: harness ensemble runs/a runs/b --out runs/ens --method __NAME__ --option power=2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, Ensembler


@dataclass(frozen=True)
class __CLASS__Options:
    power: float = 2.0  # k of the power mean; 1 is the arithmetic mean

    def validate(self, where: str) -> None:
        require(self.power > 0, f"{where}.power", "must be > 0")


def power_mean(probs: Sequence[np.ndarray], weights: Sequence[float] | None, k: float) -> np.ndarray:
    w = np.ones(len(probs)) if weights is None else np.asarray(weights, dtype=np.float64)
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs])
    out = np.tensordot(w / w.sum(), stack**k, axes=1) ** (1.0 / k)
    return out / out.sum(axis=1, keepdims=True)


def build(opts: __CLASS__Options, ctx: BuildContext | None) -> Ensembler:
    # ctx is None when `harness ensemble` combines runs; an ensembler must not need it
    def ensemble(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return power_mean(probs, weights, opts.power)

    return ensemble


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="example: weighted power mean of probabilities")]
'''

TEST = '''

def test_power_one_is_the_mean() -> None:
    a, b = np.array([[0.2, 0.8]]), np.array([[0.6, 0.4]])
    np.testing.assert_allclose(__MODULE__.power_mean([a, b], None, 1.0), [[0.4, 0.6]])
'''

TEMPLATE = Template("ensembler", MODULE, TEST, "import numpy as np", "a weighted power mean")
