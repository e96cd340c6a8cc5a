"""`harness predict --reject`: new images through a run's gate first. A gate run scores every
image, and the main run predicts only those it accepts; a score of the main run's own logits
needs the main run's prediction of every image, then turns away those below the threshold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.competition import Split
from harness.gate.attach import Gate, read_gate
from harness.gate.scores import fold_mean, known_probability, main_score
from harness.hierarchy.levels import run_levels
from harness.outputs.labels import Tasks, add_label_columns, labels_of
from harness.outputs.manifest import read_manifest
from harness.outputs.tables import prob_frame
from harness.plugin_manager import Plugins
from harness.predict.folds import Prediction, predict_run


def predict_gated(run_dir: Path, split: Split, plugins: Plugins, folds: Sequence[int] | None = None,
                  views: Sequence[str] | None = None, advance: Callable[[int], None] | None = None,
                  ) -> tuple[pd.DataFrame, Gate]:
    """id, label (the gate's unknown label where it turns the image away), gate_score, and the
    main run's probabilities per class (empty for an image a gate run turned away: never
    predicted); then a multi-task run's further tasks, as `Prediction.frame` writes them. `folds`
    and `views` choose the main run's; a gate run predicts with all of its."""
    gate = read_gate(run_dir)
    main: Prediction | None
    if gate.run:
        scored = predict_run(Path(gate.run), split, plugins, None, None, advance, keep_logits=True)
        assert scored.logits is not None
        scores = fold_mean(known_probability, scored.logits, scored.classes)
        accepted = gate.accepts(scores)
        keep = np.flatnonzero(accepted)
        main = predict_run(run_dir, split.subset(keep), plugins, folds, views, advance) if len(keep) else None
        manifest = read_manifest(run_dir)
        classes, levels = manifest.classes, run_levels(manifest.extra)
        probs = np.full((len(split), len(classes)), np.nan)
        tasks: Tasks = {}
        if main is not None:
            probs[keep] = main.probs
            for task, (task_classes, task_probs) in main.tasks.items():
                full = np.full((len(split), len(task_classes)), np.nan)
                full[keep] = task_probs
                tasks[task] = (task_classes, full)
    else:
        main = predict_run(run_dir, split, plugins, folds, views, advance, keep_logits=True)
        assert main.logits is not None
        classes, levels = main.classes, main.levels
        scores = fold_mean(main_score(gate.by), main.logits, classes)
        accepted = gate.accepts(scores)
        probs, tasks = main.probs, main.tasks
    frame = prob_frame(split.ids, probs, classes, "id")
    frame.insert(1, "label", labels_of(probs, classes, accepted, gate.unknown_label))
    frame.insert(2, "gate_score", scores)
    add_label_columns(frame, probs, tasks, levels, accepted, gate.unknown_label)  # levels and further tasks, gated alike
    return frame, gate
