"""How alike the members' mistakes are: the Pearson correlation, over the OOF rows, of each
member's probability of the true class (as it enters the average: after view weighting and
scaling). Members correlated near 1 add little to each other; the true-class probability, rather
than every flattened probability, is what the metric sees, and it does not reward two members
for agreeing on the many classes that are obviously wrong."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def true_class_correlation(probs: Sequence[np.ndarray], y: np.ndarray) -> np.ndarray:
    """(M, M) Pearson correlation of p_m[i, y_i]; NaN where a member's column is constant."""
    true = np.stack([np.asarray(p)[np.arange(len(y)), y] for p in probs])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(true) if len(probs) > 1 else np.ones((1, 1))
    return np.atleast_2d(corr)


def correlation_frame(corr: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(corr, index=list(names), columns=list(names))


def heatmap(frame: pd.DataFrame, path: Path) -> None:
    """The matrix as an annotated heatmap (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(frame)
    fig, ax = plt.subplots(figsize=(2.2 + 0.9 * n, 1.8 + 0.8 * n))
    image = ax.imshow(frame.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), frame.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), frame.index)
    for i in range(n):
        for j in range(n):
            value = frame.iat[i, j]
            ax.text(j, i, "nan" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(value) > 0.6 else "black")
    ax.set_title("OOF correlation (true-class probability)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
