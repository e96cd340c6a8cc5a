"""`gate.png`: the OOF in-domain scores against the chosen threshold, with the test (or holdout)
images' scores beside them, so a user sees how far apart they sit and what the gate turns away."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.gate.attach import Gate


def gate_histogram(gate: Gate, oof: np.ndarray, others: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    values = [oof, *others.values()]
    bins = np.histogram_bin_edges(np.concatenate(values), bins=50).tolist()
    ax.hist(oof, bins=bins, alpha=0.6, density=True, label=f"OOF in-domain ({len(oof)})")
    for name, s in others.items():
        ax.hist(s, bins=bins, histtype="step", linewidth=1.5, density=True, label=f"{name} ({len(s)})")
    ax.axvline(gate.threshold, color="k", linestyle="--",
               label=f"threshold {gate.threshold:.4g} (OOF recall {gate.oof_recall:.3f})")
    source = "gate run's P(known)" if gate.run else gate.by
    ax.set(xlabel=f"score: {source} (accepted at or above the threshold)", ylabel="density",
           title=f"Gate for {gate.recall:g} in-domain recall")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
