"""Class-balanced sampling: draw each image with probability proportional to n_c^(q - 1), where n_c
is the size of its class. q = 1 is plain instance sampling, q = 0 gives every class the same share,
q = 1/2 is square-root sampling (Mahajan et al., "Exploring the Limits of Weakly Supervised
Pretraining", 2018; Kang et al., "Decoupling Representation and Classifier for Long-Tailed
Recognition", ICLR 2020, whose "progressively-balanced" family uses the same power law).

The draw is one global sequence per (seed, epoch): every process computes the same one and
Accelerate hands each its own batches of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Sampler

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component

MODE_Q = {"instance": 1.0, "class_balanced": 0.0, "sqrt": 0.5}


@dataclass(frozen=True)
class ClassBalancedOptions:
    # draw probability per image ~ n_c^(q-1): instance q=1, class_balanced q=0, sqrt q=1/2, power: q below
    mode: Literal["instance", "class_balanced", "sqrt", "power"] = "class_balanced"
    q: float = 0.5  # the exponent for mode "power"
    num_samples: int = 0  # images per epoch; 0 = as many as the fold has
    replacement: bool = True  # draw with replacement (false: each image at most once an epoch)

    def validate(self, where: str) -> None:
        require(self.q >= 0.0, f"{where}.q", "must be >= 0")
        require(self.num_samples >= 0, f"{where}.num_samples", "must be >= 0 (0 = the fold's size)")

    @property
    def exponent(self) -> float:
        return MODE_Q.get(self.mode, self.q)


def sample_weights(labels: np.ndarray, q: float) -> torch.Tensor:
    """Per-sample weight n_c^(q - 1), normalized: class c then gets n_c^q / sum_k n_k^q of draws."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels).astype(np.float64)
    w = counts[labels] ** (q - 1.0)
    return torch.from_numpy(w / w.sum())


class ClassBalancedSampler(Sampler[int]):
    """A deterministic weighted draw per (seed, epoch): resuming an epoch replays the same draw."""

    def __init__(
        self, labels: np.ndarray, q: float, seed: int, num_samples: int = 0, replacement: bool = True
    ):
        self.weights = sample_weights(labels, q)
        self.num_samples = num_samples or len(labels)
        self.seed, self.replacement, self.epoch = seed, replacement, 0
        if not replacement and self.num_samples > len(labels):
            raise ValueError(f"cannot draw {self.num_samples} of {len(labels)} images without replacement")

    @classmethod
    def from_options(cls, opts: ClassBalancedOptions, ctx: BuildContext) -> ClassBalancedSampler:
        n = len(ctx.labels)
        require(opts.replacement or opts.num_samples <= n, "sampler.num_samples",
                f"at most {n} (the fold's size) without replacement")
        return cls(ctx.labels, opts.exponent, ctx.seed, opts.num_samples, opts.replacement)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        draw = torch.multinomial(self.weights, self.num_samples, self.replacement, generator=g)
        return iter(draw.tolist())


@hookimpl
def harness_samplers() -> list[Component]:
    return [Component("class_balanced", ClassBalancedSampler.from_options, ClassBalancedOptions,
                      doc="draws proportional to class size^(q-1): instance, sqrt, balanced, power")]
