"""Constrained weight optimisation: scipy.optimize.minimize with SLSQP (Kraft 1988, "A software
package for sequential quadratic programming"), weights in [0, 1] summing to 1, starting from
equal weights. The common Kaggle "optimise the blend weights on the OOF" recipe.

SLSQP needs a gradient. A metric that reads only labels (accuracy, kappa) or that is flat to a
finite-difference step (ROC AUC) has none, so `objective = "auto"` then minimises log loss, a
smooth surrogate, with its exact gradient, and says so in the fit's `objective`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.metrics import score
from harness.specs import BuildContext, Component, EnsembleFit, MetricSpec, normalized_weights
from harness_plugins.ensemble.mean import mean_probs

STEP = float(np.sqrt(np.finfo(np.float64).eps))  # scipy's finite-difference step for SLSQP


@dataclass(frozen=True)
class SlsqpOptions:
    # what the weights minimise: auto is the metric when it has a gradient, else log loss
    objective: Literal["auto", "metric", "log_loss"] = "auto"
    max_iter: int = 200  # SLSQP iterations at most

    def validate(self, where: str) -> None:
        require(self.max_iter >= 1, f"{where}.max_iter", "must be >= 1")


def log_loss_and_grad(stack: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean -log of the blend's true-class probability, and its gradient in `w`. `stack` is
    (M, N, C); the blend uses w / sum(w), so the gradient is that of the normalized weights."""
    true = stack[:, np.arange(len(y)), y]  # (M, N)
    s = w.sum()
    p = np.clip((w / s) @ true, 1e-15, None)
    g = -(true / p).mean(axis=1)  # d/dq of -mean log(q @ true)
    return float(-np.log(p).mean()), (g - g @ (w / s)) / s


def minimise_on_simplex(f: Callable[[np.ndarray], float], m: int, max_iter: int,
                        jac: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """argmin f(w) over w >= 0, sum(w) = 1, from equal weights; tiny negatives clipped."""
    from scipy.optimize import minimize

    res = minimize(f, np.full(m, 1.0 / m), jac=jac, method="SLSQP", bounds=[(0.0, 1.0)] * m,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                   options={"maxiter": max_iter, "ftol": 1e-10})
    w = np.clip(res.x, 0.0, None)
    return normalized_weights(w if w.sum() > 0 else None, m)


def flat(f: Callable[[np.ndarray], float], m: int) -> bool:
    """Whether f does not move at all under a finite-difference step from equal weights."""
    x0 = np.full(m, 1.0 / m)
    f0 = f(x0)
    return all(f(x0 + STEP * np.eye(m)[j]) == f0 for j in range(m))


class Slsqp:
    """A `FittingEnsembler`: weights by SLSQP, combined by the weighted mean."""

    def __init__(self, opts: SlsqpOptions):
        self.opts = opts

    @classmethod
    def from_options(cls, opts: SlsqpOptions, ctx: BuildContext | None) -> Slsqp:
        return cls(opts)

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return mean_probs(probs, weights)

    def fit(self, probs: Sequence[np.ndarray], y: np.ndarray, metric: MetricSpec) -> EnsembleFit:
        m, sign = len(probs), -metric.sign  # minimised
        stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs])

        def on_metric(w: np.ndarray) -> float:
            return sign * score(metric, y, mean_probs(list(stack), w))

        use_metric, why = self.opts.objective == "metric", ""
        if self.opts.objective == "auto":
            if not metric.needs_probs:
                why = f"{metric.name} reads labels only and has no gradient"
            elif flat(on_metric, m):
                why = f"{metric.name} is flat to a finite-difference step of {STEP:.1e}"
            use_metric = not why
        if use_metric:
            w = minimise_on_simplex(on_metric, m, self.opts.max_iter)
            return EnsembleFit(tuple(float(x) for x in w), metric.name)
        w = minimise_on_simplex(lambda w: log_loss_and_grad(stack, y, w)[0], m, self.opts.max_iter,
                                jac=lambda w: log_loss_and_grad(stack, y, w)[1])
        objective = f"log_loss (surrogate: {why})" if why else "log_loss (asked for)"
        return EnsembleFit(tuple(float(x) for x in w), objective)


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("slsqp", Slsqp.from_options, SlsqpOptions,
                      doc="weights >= 0 summing to 1 by scipy SLSQP, on the metric or on log loss when it has no gradient")]
