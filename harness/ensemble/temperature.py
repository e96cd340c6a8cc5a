"""Temperature and power scaling of one member before averaging.

Temperature scaling: Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural
Networks". One scalar T per member divides its logits (every TTA view's) before the softmax; T is
fitted on the OOF by minimising log loss, so an over-confident member (T > 1) stops dominating a
probability average. It does not change any single view's argmax.

Power scaling raises the averaged probabilities to a power P and renormalizes the rows: P > 1
sharpens, P < 1 flattens. On log-probabilities it is temperature 1 / P."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.metrics import cross_entropy, softmax
from harness.specs import normalized_weights

BOUNDS = (0.05, 20.0)  # temperatures searched


def softmax_nd(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax over the last axis of an array of any rank."""
    flat = np.asarray(logits, dtype=np.float64).reshape(-1, logits.shape[-1]) / temperature
    return softmax(flat).reshape(logits.shape)


def blend_views(logits: Sequence[np.ndarray], weights: Sequence[float], temperature: float = 1.0) -> np.ndarray:
    """sum_v w_v softmax(z_v / T) with weights normalized: the TTA average of a run at T = 1."""
    w = normalized_weights(weights, len(logits))
    return sum((wv * softmax_nd(z, temperature) for wv, z in zip(w, logits, strict=True) if wv > 0),
               start=np.zeros(logits[0].shape))


def power_scale(probs: np.ndarray, power: float) -> np.ndarray:
    """p ** P, rows renormalized; P = 1 is the identity."""
    if power == 1.0:
        return probs
    p = np.clip(probs, 1e-15, 1.0) ** power
    return p / p.sum(axis=-1, keepdims=True)


def fit_temperature(logits: Sequence[np.ndarray], weights: Sequence[float], y: np.ndarray) -> float:
    """The T in BOUNDS that minimises the log loss of `blend_views(logits, weights, T)` on labels `y`."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(BOUNDS[0]), np.log(BOUNDS[1])
    res = minimize_scalar(lambda t: cross_entropy(y, blend_views(logits, weights, float(np.exp(t)))),
                          bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))
