"""`gate.json`: a main run's gate, and how it is fitted.

The threshold is chosen on out-of-fold predictions: every OOF image of the main run is in-domain,
so the score at the (1 - recall) quantile of their scores accepts at least `recall` of them, and
it was never fitted on the images it is measured on. A gate run's threshold is chosen on its own
OOF "known" images the same way."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.outliers import GATE_CLASSES, KNOWN
from harness.errors import HarnessError
from harness.gate.scores import Score, fold_mean, known_probability, main_score
from harness.outputs.manifest import read_manifest

GATE_FILE = "gate.json"
GATED_SUBMISSION = "submission_gated.csv"
BY_RUN = "run"  # Gate.by when a gate run scores the images


@dataclass(frozen=True)
class Gate:
    by: str  # a score of the main run's logits ("max_softmax", "energy"), or BY_RUN
    run: str  # the gate run's folder, absolute ("" for a score)
    threshold: float  # an image is accepted when its score is >= this
    recall: float  # the in-domain recall asked for
    oof_recall: float  # the share of OOF in-domain images the threshold accepts
    oof_images: int
    unknown_label: str  # the label a turned-away image gets

    def write(self, run_dir: Path) -> None:
        (run_dir / GATE_FILE).write_text(json.dumps(asdict(self), indent=1) + "\n")

    def accepts(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) >= self.threshold


def read_gate(run_dir: Path) -> Gate:
    path = run_dir / GATE_FILE
    if not path.is_file():
        raise HarnessError(f"{run_dir} has no gate ({GATE_FILE}): attach one first with "
                           f"`harness gate {run_dir} --by max_softmax` (or energy, or a gate run's folder)")
    try:
        return Gate(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise HarnessError(f"{path} is not a gate file harness can read: {exc}") from exc


def threshold_for_recall(scores: np.ndarray, recall: float) -> float:
    """The highest threshold that accepts (score >= it) at least `recall` of `scores`."""
    if not 0.0 < recall <= 1.0:
        raise HarnessError(f"--recall must be in (0, 1], got {recall}")
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if not len(s):
        raise HarnessError("no out-of-fold in-domain images to choose a threshold on")
    keep = int(np.ceil(recall * len(s) - 1e-9))  # images that must be accepted
    return float(s[len(s) - keep])


@dataclass(frozen=True)
class Scored:
    """A source's scores: the OOF in-domain images', and each predicted set's (test, holdout) by id."""

    oof: np.ndarray
    sets: dict[str, pd.Series]


def _stack(views: dict[str, np.ndarray]) -> np.ndarray:
    """view -> (N, C) or (F, N, C) logits, stacked (V, N, C) or (F, V, N, C)."""
    return np.stack(list(views.values()), axis=-3)


def score_source(main_dir: Path, by: str) -> tuple[Scored, str]:
    """The scores that `by` gives, from finished runs' files; and the gate run's folder ("" for a score)."""
    from harness.ensemble.members import load_pool

    gate_dir = Path(by)
    fn: Score
    if gate_dir.is_dir():
        gate = read_manifest(gate_dir)
        if gate.classes != GATE_CLASSES:
            raise HarnessError(f"--by {by}: a gate run has the classes {list(GATE_CLASSES)} (a run with data.outliers "
                               f"set); this one has {list(gate.classes)}")
        if gate.kind != "run":
            raise HarnessError(f"--by {by}: an {gate.kind} folder holds no models, and `harness predict --reject` must "
                               "score new images with the gate: give one gate run's folder")
        pool, fn, source = load_pool([gate_dir]), known_probability, str(gate_dir.resolve())
        main = read_manifest(main_dir)
        for set_name in ("test", "holdout"):
            if getattr(main, set_name) != getattr(gate, set_name):
                raise HarnessError(f"--by {by}: the gate run's {set_name} set is not the main run's (were both run on "
                                   f"the same data.root?)")
        in_domain = pool.y == GATE_CLASSES.index(KNOWN)
    else:
        fn = main_score(by)
        pool, source = load_pool([main_dir]), ""
        in_domain = np.ones(len(pool.ids), dtype=bool)
    member = pool.members[0]
    classes = pool.manifest.classes
    oof = fn(_stack(member.oof), classes)[in_domain]
    sets = {s: pd.Series(fold_mean(fn, _stack(member.sets[s]), classes), index=list(ids))
            for s, ids in pool.set_ids.items()}
    return Scored(oof, sets), source


def fit_gate(main_dir: Path, by: str, recall: float, unknown_label: str) -> tuple[Gate, Scored]:
    main = read_manifest(main_dir)
    if main.kind != "run" and by != "max_softmax":
        raise HarnessError(f"{main_dir} is an {main.kind} folder, whose predictions are probabilities: gate it "
                           "--by max_softmax (energy needs a run's logits, a gate run a run's models)")
    if unknown_label in main.classes:
        raise HarnessError(f"--unknown-label {unknown_label!r} is one of the run's classes; choose another label")
    scored, source = score_source(main_dir, by)
    threshold = threshold_for_recall(scored.oof, recall)
    gate = Gate(BY_RUN if source else by, source, threshold, recall, float(np.mean(scored.oof >= threshold)),
                len(scored.oof), unknown_label)
    return gate, scored


def gated_submission(main_dir: Path, gate: Gate, scores: pd.Series) -> tuple[pd.DataFrame, int]:
    """The main run's submission.csv with the label of every image the gate turns away replaced
    by the unknown label, and how many it turned away."""
    path = main_dir / "submission.csv"
    manifest = read_manifest(main_dir)
    if not path.is_file():
        raise HarnessError(f"{main_dir} has no submission.csv to gate (a run without a test or holdout set)")
    sub = pd.read_csv(path, dtype=str, keep_default_na=False)
    labels = [c for c in sub.columns if c != manifest.id_column and c not in manifest.classes]
    if len(labels) != 1:
        raise HarnessError(f"{path} has no label column (its columns are {list(sub.columns)}): a submission of "
                           "probabilities has no place for an unknown label")
    ids = sub[manifest.id_column]
    missing = ~ids.isin(scores.index)
    if missing.any():
        raise HarnessError(f"{path}: {int(missing.sum())} id(s) without a gate score, e.g. {ids[missing].iloc[0]!r}")
    rejected = ~gate.accepts(scores.loc[ids].to_numpy())
    sub.loc[rejected, labels[0]] = gate.unknown_label
    return sub, int(rejected.sum())
