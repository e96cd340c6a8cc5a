"""Learning curves: train and validation loss, and the validation metric, per fold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def learning_curves(history: Sequence[dict[str, Any]], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 4))
    for fold in sorted({h["fold"] for h in history}):
        rows = [h for h in history if h["fold"] == fold]
        epochs = [h["epoch"] + 1 for h in rows]
        line = ax_loss.plot(epochs, [h["train_loss"] for h in rows], label=f"fold {fold} train")[0]
        ax_loss.plot(epochs, [h["val_loss"] for h in rows], "--", color=line.get_color(), label=f"fold {fold} val")
        ax_score.plot(epochs, [h["val_score"] for h in rows], color=line.get_color(), label=f"fold {fold}")
        extra = [k for k in rows[0] if k.startswith("val_score_")]  # every other candidate's weights, alike
        for key, style in zip(extra, [":", "-.", (0, (5, 1))] * len(extra), strict=False):
            ax_score.plot(epochs, [h[key] for h in rows], linestyle=style, color=line.get_color(),
                          label=f"fold {fold} {key.removeprefix('val_score_')}")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_score.set(xlabel="epoch", ylabel=metric, title=f"Validation {metric}")
    for ax in (ax_loss, ax_score):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
