"""`harness predict TRUNK --branch RUN ...`: new images routed through a trunk run to branch runs,
as `harness hierarchy` routes a run's own predictions. The trunk predicts every image; each
branch run predicts only the images the trunk sends to its node, and picks the leaf. The leaf
implies every level above it (`harness.hierarchy.combine.route`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.competition import Split
from harness.hierarchy.combine import RunProbs, level_names, route
from harness.outputs.run_hierarchy import routed_leaves, run_tree
from harness.plugin_manager import Plugins
from harness.predict.folds import predict_run, run_manifest


def predict_routed(trunk_dir: Path, branches: Mapping[str, Path], file: str, split: Split, plugins: Plugins,
                   advance: Callable[[int], None] | None = None) -> pd.DataFrame:
    """id, label (the leaf), level_1 .. level_{depth-1} (the leaf's nodes; level_1 is the trunk's
    pick), the trunk's probabilities (level_1:NODE), then each leaf's probability from the branch
    the image was routed to (empty for the leaves of the other branches: never predicted)."""
    trunk = predict_run(trunk_dir, split, plugins, None, None, advance)
    ids = list(split.ids)
    picked = trunk.probs.argmax(axis=1)
    routed: dict[str, RunProbs] = {}
    for node, folder in branches.items():
        rows = np.flatnonzero(picked == trunk.classes.index(node))
        if len(rows):
            pred = predict_run(folder, split.subset(rows), plugins, None, None, advance)
            classes, probs = pred.classes, pred.probs
        else:  # the trunk sends it no image
            classes = run_manifest(folder).classes
            probs = np.zeros((0, len(classes)))
        frame = pd.DataFrame(probs, index=[ids[i] for i in rows], columns=list(classes))
        routed[node] = RunProbs(classes, {"test": frame}, {})
    trunk_probs = pd.DataFrame(trunk.probs, index=ids, columns=list(trunk.classes))
    tree = run_tree(trunk_dir, file, routed_leaves(trunk.classes, {n: r.classes for n, r in routed.items()}))
    table = route(tree, RunProbs(trunk.classes, {"test": trunk_probs}, {}), routed)["test"]
    out = pd.DataFrame({"id": ids, "label": table["leaf"].to_numpy()})
    for name in level_names(tree)[:-1]:
        out[name] = table[name].to_numpy()
    for node in trunk.classes:
        out[f"level_1:{node}"] = trunk_probs[node].to_numpy()
    for run in routed.values():
        for leaf in run.classes:
            out[leaf] = run.probs["test"][leaf].reindex(ids).to_numpy()
    return out
