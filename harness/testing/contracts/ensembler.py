"""The contract every ensembler passes (`harness.testing.EnsemblerContract`)."""

from __future__ import annotations

import numpy as np

from harness.specs import EnsembleFit, FittingEnsembler
from harness.testing.contracts.base import Contract, build_component, probabilities


class EnsemblerContract(Contract):
    """An ensembler combines float (N, C) probability matrices (rows sum to 1) into one float (N, C)
    whose rows sum to 1, with or without weights; one with `fit` returns one weight per matrix."""

    kind = "ensemblers"

    def members(self, m: int = 3, n: int = 20) -> list[np.ndarray]:
        return [probabilities(n, self.num_classes, seed=k).double().numpy() for k in range(m)]

    def _check(self, out: np.ndarray, n: int) -> None:
        assert out.shape == (n, self.num_classes) and np.isfinite(out).all() and (out >= 0).all()
        np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-6)

    def test_rows_sum_to_one(self) -> None:
        ens, probs = self.build(), self.members()
        self._check(np.asarray(ens(probs)), 20)
        self._check(np.asarray(ens(probs, [1.0, 2.0, 0.5])), 20)
        self._check(np.asarray(ens(probs[:1])), 20)

    def test_rows_follow_their_order(self) -> None:
        ens, probs = self.build(), self.members()
        perm = np.random.default_rng(0).permutation(20)
        np.testing.assert_allclose(np.asarray(ens([p[perm] for p in probs])), np.asarray(ens(probs))[perm], atol=1e-9)

    def test_fit_gives_one_weight_per_member(self) -> None:
        ens = self.build()
        if not isinstance(ens, FittingEnsembler):
            return
        probs = self.members()
        y = np.arange(20) % self.num_classes
        metric = build_component("metrics", "log_loss", plugins=self.plugins)
        fit = ens.fit(probs, y, metric)
        assert isinstance(fit, EnsembleFit) and len(fit.weights) == len(probs)
        assert min(fit.weights) >= 0 and abs(sum(fit.weights) - 1) < 1e-6 and fit.objective
        self._check(np.asarray(ens(probs, fit.weights)), 20)
