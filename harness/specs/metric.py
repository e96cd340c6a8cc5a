"""A competition metric and its direction, in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class MetricSpec:
    """A competition metric, selected by `cv.metric`. `fn(y_true, probs)` takes int class indices
    (N,) and class probabilities (N, C) (rows sum to 1) and returns a float. A metric that only
    needs labels (`needs_probs=False`) reads `probs.argmax(1)`, so a label submission scores
    through one-hot rows."""

    name: str  # the value of `cv.metric`
    fn: Callable[[np.ndarray, np.ndarray], float]  # (int labels (N,), probabilities (N, C)) -> score
    higher_is_better: bool  # the direction: picks the best epoch, candidate and ensemble weights
    needs_probs: bool  # False: reads only probs.argmax(1), so label submissions score too
    doc: str = ""  # one line for `harness plugins`

    def __call__(self, y_true: np.ndarray, probs: np.ndarray) -> float:
        return float(self.fn(y_true, probs))

    # The metric's direction, in one place: every comparison, ranking and optimisation asks these.
    @property
    def sign(self) -> float:
        """+1.0 or -1.0: `sign * score` grows as the score gets better (sort, maximise by it)."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's name for the direction."""
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def in_words(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def better(self, a: float, b: float | None, min_delta: float = 0.0) -> bool:
        """Whether score `a` beats `b` (None: nothing to beat) by more than `min_delta`."""
        if b is None:
            return True
        return self.sign * (a - b) > min_delta

    def best(self, scores: Iterable[float]) -> float:
        """The best of `scores` (at least one)."""
        return max(scores, key=lambda s: self.sign * s)
