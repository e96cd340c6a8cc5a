"""The report's plots as PNG bytes, drawn with matplotlib's Agg backend (no display, no network):
learning curves per fold, the confusion matrix and the reliability diagram."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.report.scores import Calibration


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def learning_curves(history: Sequence[dict[str, Any]], metric: str, per_row: int = 5) -> bytes:
    """One column per fold: losses (train, validation) above, the validation score of every
    candidate's weights below, all candidates drawn alike."""
    plt = _pyplot()
    folds = sorted({int(h["fold"]) for h in history})
    cols = min(per_row, len(folds))
    blocks = math.ceil(len(folds) / cols)
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(3.2 * cols, 5.0 * blocks), squeeze=False)
    for i, fold in enumerate(folds):
        rows = [h for h in history if int(h["fold"]) == fold]
        epochs = [int(h["epoch"]) + 1 for h in rows]
        ax_loss, ax_score = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        ax_loss.plot(epochs, [h.get("train_loss", np.nan) for h in rows], marker=".", label="train")
        ax_loss.plot(epochs, [h.get("val_loss", np.nan) for h in rows], marker=".", ls="--", label="validation")
        ax_loss.set(title=f"fold {fold}: loss", xlabel="epoch")
        keys = ["val_score"] + sorted(k for k in rows[0] if k.startswith("val_score_"))
        for key in keys:
            name = key.removeprefix("val_score_") if key != "val_score" else "raw"
            ax_score.plot(epochs, [h.get(key, np.nan) for h in rows], marker=".", label=name)
        ax_score.set(title=f"fold {fold}: validation {metric}", xlabel="epoch")
        for ax in (ax_loss, ax_score):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    for j in range(len(folds), blocks * cols):
        axes[2 * (j // cols), j % cols].axis("off")
        axes[2 * (j // cols) + 1, j % cols].axis("off")
    fig.tight_layout()
    return _png(fig)


def confusion_matrix(cm: np.ndarray, classes: Sequence[str]) -> bytes:
    """Rows normalized to the true class's count (colour), raw counts written in the cells while
    they stay legible."""
    plt = _pyplot()
    n = len(classes)
    side = min(14.0, 2.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if n <= 30:
        ticks = np.arange(n)
        ax.set_xticks(ticks, [str(c) for c in classes], rotation=90 if n > 6 else 0, fontsize=8)
        ax.set_yticks(ticks, [str(c) for c in classes], fontsize=8)
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8 if n <= 15 else 6,
                            color="white" if share[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (OOF)")
    fig.tight_layout()
    return _png(fig)


def reliability(cal: Calibration) -> bytes:
    """Accuracy against mean confidence per bin, with the diagonal of perfect calibration, and
    how many predictions fall in each bin."""
    plt = _pyplot()
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(5.2, 6.0), height_ratios=[3, 1], sharex=True)
    centers = (cal.edges[:-1] + cal.edges[1:]) / 2
    width = cal.edges[1] - cal.edges[0]
    filled = cal.counts > 0
    ax.bar(centers[filled], cal.accuracy[filled], width=width * 0.9, color="#4c72b0", alpha=0.8, label="accuracy")
    ax.plot(cal.confidence[filled], cal.accuracy[filled], "o", color="#dd8452", label="(confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    ax.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02), title=f"Reliability (OOF), ECE {cal.ece:.4f}")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ax_n.bar(centers, cal.counts, width=width * 0.9, color="#8c8c8c")
    ax_n.set(xlabel="top-class probability", ylabel="images")
    fig.tight_layout()
    return _png(fig)
