"""The work of `harness soft-labels`: each trained fold of a finished run predicts the rows it
trained on (every id of the run's `folds.csv` outside its own fold), with every TTA view, into
`fold{k}/in_sample.npz` (`harness.outputs.in_sample`). A stored teacher then labels student fold
k's training rows with its fold-k model, which never saw fold k's labels, instead of each row's
out-of-fold prediction, whose model did."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from harness.data.competition import Split, load_competition
from harness.errors import HarnessError
from harness.outputs.in_sample import write_in_sample
from harness.outputs.manifest import RunManifest, read_fold_table
from harness.plugin_manager import Plugins
from harness.predict.folds import CHUNK_BATCHES, array_store, chosen_folds, predict_chunked, run_manifest


def training_split(run_dir: Path, manifest: RunManifest, split: Split) -> tuple[Split, dict[str, int]]:
    """The rows of `split` (the competition's training images) that the run assigned to folds, in
    `folds.csv` order, and each one's fold."""
    table = read_fold_table(run_dir, manifest.id_column)
    fold_of = {str(i): int(f) for i, f in table.items()}
    index = {i: n for n, i in enumerate(split.ids)}
    missing = [i for i in fold_of if i not in index]
    if missing:
        raise HarnessError(f"{run_dir}'s folds.csv names {len(missing)} id(s) that its data.root no longer holds, such "
                           f"as {missing[0]!r}: soft labels are predicted from the images the run trained on")
    return split.subset(np.array([index[i] for i in fold_of], dtype=np.int64)), fold_of


def in_sample_rows(split: Split, fold_of: dict[str, int], fold: int) -> Split:
    """The rows fold `fold`'s model trained on: every row outside fold `fold`."""
    return split.subset(np.array([n for n, i in enumerate(split.ids) if fold_of[i] != fold], dtype=np.int64))


def write_soft_labels(run_dir: Path, plugins: Plugins, folds: Sequence[int] | None = None,
                      advance: Callable[[int], None] | None = None,
                      started: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write `fold{k}/in_sample.npz` for each of `folds` (default: every trained fold) of the run in
    `run_dir`; the files written (by the main process). `started(fold, rows)` is told of each fold
    before it predicts, `advance(n)` of every n rows done."""
    from harness.config.recipe import load_recipe
    from harness.predict.fold_model import eval_batch_size, load_fold_model
    from harness.runtime.accelerator import make_accelerator

    manifest = run_manifest(run_dir)
    use = chosen_folds(manifest, folds)
    recipe = load_recipe(run_dir / "recipe.toml", (), plugins)
    split, fold_of = training_split(run_dir, manifest, load_competition(recipe.data, recipe.cv.group_column).train)
    acc = make_accelerator(recipe)
    store = array_store(split, recipe, acc.device)
    chunk = eval_batch_size(recipe, acc.num_processes) * CHUNK_BATCHES
    written = []
    for k in use:
        rows = in_sample_rows(split, fold_of, k)
        if started:
            started(k, len(rows))
        fm = load_fold_model(run_dir, k, plugins, acc.device, None, recipe)
        logits = predict_chunked(fm, rows, acc, recipe, store, chunk, advance)
        if acc.is_main_process:
            written.append(write_in_sample(run_dir, k, rows.ids, logits))
    return written


__all__ = ["training_split", "in_sample_rows", "write_soft_labels"]
