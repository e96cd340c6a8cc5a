"""How much an ensemble of these members could still gain, counted on top-1 labels whatever the
metric: of the rows the ensemble gets wrong, how many every member also gets wrong, and how many
some member gets right (what better weights, or a better blend, could still win). The oracle is
the accuracy of choosing, row by row, a member that is right where one is. With two classes no
weighted mean of the members' probabilities gets right a row that every member gets wrong, so the
oracle is the ceiling of every such blend; with more classes a blend can, rarely (two members
wrong in different ways). So when the ensemble's misses are mostly everyone's misses, another seed
or better weights will not help: a member that sees those rows differently would.

`mistakes.csv` lists the rows the ensemble gets wrong (OOF, and the holdout where it has labels),
the rows everyone misses first, to look at: ambiguous photos and wrong labels live there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.ensemble.pipeline import LabelledSet


def member_right(probs: Sequence[np.ndarray], y: np.ndarray) -> np.ndarray:
    """(M, N) whether each member's top class is the label."""
    return np.stack([np.asarray(p).argmax(1) == y for p in probs])


def headroom(s: LabelledSet) -> dict[str, Any]:
    """The counts, for `ensemble.json`; accuracies as fractions of the rows."""
    right, n = member_right(s.members, s.y), len(s.y)
    wrong = s.ensemble.argmax(1) != s.y
    anyone = right.any(0)
    return {"rows": n, "ensemble_wrong": int(wrong.sum()), "every_member_wrong": int((~anyone).sum()),
            "some_member_right": int((wrong & anyone).sum()),
            "ensemble_accuracy": float(1 - wrong.mean()) if n else float("nan"),
            "oracle_accuracy": float(anyone.mean()) if n else float("nan")}


def mistakes(s: LabelledSet, classes: Sequence[str], names: Sequence[str]) -> pd.DataFrame:
    """The rows the ensemble gets wrong: the label, the ensemble's answer and its probability of the
    label, and which members are right. Fewest members right first, then least probable label."""
    y, ensemble = s.y, s.ensemble
    right = member_right(s.members, y)
    rows = np.flatnonzero(ensemble.argmax(1) != y)
    frame = pd.DataFrame({
        "set": s.name, "id": [s.ids[i] for i in rows], "label": [classes[y[i]] for i in rows],
        "predicted": [classes[ensemble[i].argmax()] for i in rows],
        "p_label": ensemble[rows, y[rows]],
        "members_right": right[:, rows].sum(0).astype(int),
        "right_by": [";".join(n for n, r in zip(names, right[:, i], strict=True) if r) for i in rows],
    })
    return frame.sort_values(["members_right", "p_label"], kind="stable").reset_index(drop=True)


def describe(name: str, h: dict[str, Any]) -> str:
    """One line for the terminal."""
    return (f"headroom ({name}): the ensemble misses {h['ensemble_wrong']} of {h['rows']} rows; every member misses "
            f"{h['every_member_wrong']}, some member gets {h['some_member_right']} of the ensemble's misses right "
            f"(oracle accuracy {h['oracle_accuracy']:.4f}; mistakes.csv lists them)")
