"""The contract every metric passes (`harness.testing.MetricContract`)."""

from __future__ import annotations

import numpy as np

from harness.specs import MetricSpec
from harness.testing.contracts.base import Contract, files_under, fresh_cwd, probabilities


class MetricContract(Contract):
    """A metric scores int labels (N,) against probabilities (N, C) as a float; perfect predictions
    beat random ones in its direction; a labels-only metric reads nothing but the argmax. It has no
    side effects: every process scores, and a metric knows no rank, so it writes no file and leaves
    its inputs unchanged; scoring twice gives the same score."""

    kind = "metrics"

    def data(self, n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = np.arange(n) % self.num_classes
        perfect = np.full((n, self.num_classes), 0.1 / (self.num_classes - 1))
        perfect[np.arange(n), y] = 0.9
        return y, perfect, probabilities(n, self.num_classes, seed=3).double().numpy()

    def test_perfect_beats_random(self) -> None:
        metric: MetricSpec = self.build()
        y, perfect, noise = self.data()
        best, random = metric(y, perfect), metric(y, noise)
        assert isinstance(best, float) and np.isfinite(best) and np.isfinite(random)
        assert metric.better(best, random) and not metric.better(random, best)

    def test_labels_only_reads_the_argmax(self) -> None:
        metric: MetricSpec = self.build()
        if metric.needs_probs:
            return
        y, _, noise = self.data()
        one_hot = np.eye(self.num_classes)[noise.argmax(1)]
        assert metric(y, noise) == metric(y, one_hot)

    def test_no_side_effects(self) -> None:
        metric: MetricSpec = self.build()
        y, _, noise = self.data()
        y_in, probs_in = y.copy(), noise.copy()
        with fresh_cwd() as cwd:
            first, again = metric(y_in, probs_in), metric(y_in, probs_in)
            written = files_under(cwd)
        assert not written, f"a metric runs on every process and must write nothing; it wrote {written}"
        assert np.array_equal(y_in, y) and np.array_equal(probs_in, noise), "a metric must not change its inputs"
        assert first == again or (first != first and again != again), f"scored {first}, then {again}"
