"""A whole run: read the competition, screen the images, fix the folds (`harness.data.folds`),
train each fold, and write OOF, per-fold and ensembled predictions, the submission, the metrics
and `run.json`, the manifest every later tool reads."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.config.recipe import recipe_sha256, write_recipe
from harness.config.schema import Recipe
from harness.console import warn
from harness.data.competition import Competition, Split, load_competition
from harness.data.folds import assign_folds, folds_hash
from harness.errors import HarnessError
from harness.hierarchy.levels import Levels, level_scores, levels_extra, tree_levels
from harness.metrics import bootstrap_se, cross_entropy, score, softmax
from harness.outputs.epoch_log import LOG
from harness.outputs.fold_results import FoldResult, read_fold, write_fold
from harness.outputs.manifest import RunManifest, git_commit, id_set
from harness.outputs.tables import prob_frame, write_submission
from harness.plugin_manager import Plugins
from harness.predict.pooling import pool_folds, pool_views
from harness.report import report_after_run
from harness.report.figures import learning_curves
from harness.runtime import bf16_guard, trackers
from harness.runtime.accelerator import make_accelerator
from harness.runtime.allocator import keep_freed_memory
from harness.specs import Ensembler, MetricSpec
from harness.train.fold import FoldData, RunDiscarded, run_fold
from harness.train.optim import effective_lr
from harness.train.progress import Progress
from harness.train.screen import screen_images


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    metrics: dict[str, Any]


def per_process_batch(recipe: Recipe, processes: int) -> int:
    """Each process's share of a batch: `train.batch_size` is global, and must split evenly."""
    b = recipe.train.batch_size
    if b % processes:
        lower, upper = b - b % processes, b + processes - b % processes
        raise HarnessError(
            f"train.batch_size={b} is the global batch and must split evenly over {processes} processes: "
            f"use {lower or upper} or {upper}"
        )
    return b // processes


def _bf16_note(recipe: Recipe, plugins: Plugins, num_classes: int, acc: Any, say: Any) -> None:
    """Before training: which convolutions a CPU bf16 run keeps in fp32, and why; a warning when
    the recipe asked for bf16 by name."""
    if not bf16_guard.active(acc):
        return
    arch = plugins.model(recipe.model.source).build(replace(recipe.model, pretrained=False, weights=""), num_classes)
    line = bf16_guard.note(arch, recipe.data.image_size, auto=recipe.train.precision == "auto")
    if line and recipe.train.precision == "bf16":
        warn(line)
    elif line:
        say(line)


def run_experiment(recipe: Recipe, out_dir: Path, plugins: Plugins, resume: bool = False,
                   keep_process_group: bool = False, predict: bool = True) -> RunSummary:
    """Train every fold; with `resume`, finished folds are read back and the others continue from
    their newest valid checkpoint. Without `predict` (a tuning trial) the run scores its OOF alone:
    no test or holdout predictions, no submission, no report.html."""
    started = time.perf_counter()
    if recipe.train.keep_freed_memory:
        keep_freed_memory()
    acc = make_accelerator(recipe, out_dir)
    per_process = per_process_batch(recipe, acc.num_processes)
    main = acc.is_main_process
    comp = load_competition(recipe.data, recipe.cv.group_column)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (out_dir / LOG).unlink(missing_ok=True)  # a fresh run's record starts empty
        write_recipe(recipe, out_dir / "recipe.toml")
        if recipe.train.log_with:
            acc.init_trackers(trackers.PROJECT, trackers.hyperparameters(recipe))
    acc.wait_for_everyone()
    log = Progress(main, recipe.cv.folds, recipe.train.epochs)
    screened = time.perf_counter()
    comp, store = screen_images(comp, recipe, acc, out_dir, log.message)
    stages = {"screen": time.perf_counter() - screened, "write_folds": 0.0}  # metrics.json's stage_seconds
    comp, folds, source = assign_folds(comp, recipe)
    pooler = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)  # the recipe's [ensemble]
    cfg = recipe.train
    if main:
        pd.DataFrame({recipe.data.id_column: comp.train.ids, "fold": folds}).to_csv(out_dir / "folds.csv", index=False)
        share = f" ({recipe.data.fraction:g} of the training set)" if recipe.data.fraction < 1 else ""
        log.message(
            f"{len(comp.train)} training images{share}, {comp.num_classes} classes, {recipe.cv.folds} folds ({source}), "
            f"{acc.num_processes} process(es) on {acc.device}, mixed precision {acc.mixed_precision}; "
            f"batch {cfg.batch_size} global = {per_process} x {acc.num_processes} processes"
            f"{f' x {cfg.grad_accum} accumulated' if cfg.grad_accum > 1 else ''}, lr {effective_lr(recipe):.3g}"
        )
        _bf16_note(recipe, plugins, comp.num_classes, acc, log.message)
    predict_sets = {k: v for k, v in (("test", comp.test), ("holdout", comp.holdout)) if v is not None and predict}
    run_folds = recipe.cv.only or tuple(range(recipe.cv.folds))
    fold_of = dict(zip(comp.train.ids, folds.tolist(), strict=True))
    results: list[FoldResult] = []
    discarded: str | None = None  # why a callback discarded the run, if one did
    with log:
        for k in run_folds:
            data = FoldData(comp.train.subset(np.flatnonzero(folds != k)), comp.train.subset(np.flatnonzero(folds == k)),
                            predict_sets, store, fold_of, comp.tasks)
            done = read_fold(out_dir / f"fold{k}") if resume else None
            if done is not None:
                results.append(done)
                log.message(f"fold {k + 1}/{recipe.cv.folds}: finished before, skipped")
            else:
                try:
                    results.append(run_fold(k, recipe, plugins, acc, data, comp.num_classes, out_dir, log, resume=resume))
                except RunDiscarded as stop:
                    discarded = str(stop)
                    log.message(f"run discarded in fold {k + 1}, nothing predicted or written: {discarded}")
                    break
                if main:
                    writing = time.perf_counter()
                    write_fold(out_dir / f"fold{k}", results[-1], data.valid, data.predict_sets, comp.classes,
                               recipe.data.id_column, partial(pool_views, pooler))
                    stages["write_folds"] += time.perf_counter() - writing
                acc.wait_for_everyone()
                r = results[-1]
                log.message(f"fold {k + 1}/{recipe.cv.folds}: {recipe.cv.metric} {r.score:.4f} "
                            f"({r.best_weights} weights, epoch {r.best_epoch + 1})")
            if results[-1].stop_run:
                log.message(f"run stopped after fold {k + 1}: {results[-1].stop_reason or 'requested by a callback'}")
                break
    metrics: dict[str, Any] = {}
    if main and discarded is None:
        levels = _leaf_levels(recipe, comp)
        metrics = _write_run(out_dir, comp, recipe, plugins, pooler, folds, results, started, stages, acc, levels)
        _manifest(comp, recipe, plugins.metric(recipe.cv.metric), folds, source, results, acc.num_processes,
                  per_process, levels).write(out_dir)
        log.message(f"cv {recipe.cv.metric} {metrics['cv_score']:.4f}" + (
            f", holdout {metrics['holdout_score']:.4f}" if "holdout_score" in metrics else "") + f" -> {out_dir}")
        acc.log(trackers.run_scalars(metrics))
        if predict:
            report_after_run(out_dir, plugins, log.message)  # report.html; a failure to render only warns
    acc.wait_for_everyone()
    if keep_process_group:  # more runs follow in these processes (tuning trials): only the trackers end
        for tracker in acc.trackers:
            tracker.finish()
    else:
        acc.end_training()
    return RunSummary(out_dir, metrics)


def _write_run(out_dir: Path, comp: Competition, recipe: Recipe, plugins: Plugins, ensemble: Ensembler, folds: np.ndarray,
               results: list[FoldResult], started: float, stages: dict[str, float], acc: Any,
               levels: Levels) -> dict[str, Any]:
    writing = time.perf_counter()
    classes, id_col, metric = comp.classes, recipe.data.id_column, plugins.metric(recipe.cv.metric)
    assert comp.train.labels is not None
    n = len(comp.train)
    oof = np.full((n, comp.num_classes), np.nan)
    oof_plain = np.full((n, comp.num_classes), np.nan)
    for r in results:
        rows = np.flatnonzero(folds == r.fold)
        oof[rows] = pool_views(ensemble, r.oof)
        oof_plain[rows] = softmax(next(iter(r.oof.values())))
    done = ~np.isnan(oof).any(axis=1)
    frame = prob_frame(comp.train.ids, oof, classes, id_col)
    frame.insert(1, "label", [classes[i] for i in comp.train.labels])
    frame.insert(2, "fold", folds)
    frame[done].to_csv(out_dir / "oof.csv", index=False)
    y = comp.train.labels[done]
    # What the run measured; what it was set up with (the metric, folds, views, batch, processes,
    # fraction) is run.json's (`_manifest`), written there alone.
    metrics: dict[str, Any] = {
        "cv_score": score(metric, y, oof[done]),
        "cv_score_no_tta": score(metric, y, oof_plain[done]),
        "cv_log_loss": cross_entropy(y, oof[done]),  # of the OOF probabilities, whatever cv.metric is
        # how much the CV could move on another draw of as many rows: tuning reads it to tell ties from gains
        "cv_score_se": _finite(bootstrap_se(metric, y, oof[done])), "cv_rows": int(done.sum()),
        "fold_scores": {str(r.fold): r.score for r in results},
        "fold_best_weights": {str(r.fold): r.best_weights for r in results},
        "stopped": {str(r.fold): r.stop_reason for r in results if r.stop_reason},
    }
    pooled: dict[str, np.ndarray] = {}  # set -> the run's probabilities
    for set_name in ("test", "holdout"):
        per_fold = [pool_views(ensemble, r.predictions[set_name]) for r in results if set_name in r.predictions]
        if not per_fold:
            continue
        split: Split = getattr(comp, set_name)
        probs = pooled[set_name] = pool_folds(ensemble, per_fold)
        if set_name == "test":
            write_submission(out_dir / "submission.csv", comp.sample_submission, split.ids, probs, classes, id_col,
                             recipe.data.label_column)
        else:
            assert split.labels is not None
            metrics["holdout_score"] = score(metric, split.labels, probs)
            holdout = prob_frame(split.ids, probs, classes, id_col)
            holdout.insert(1, "label", [classes[i] for i in split.labels])
            holdout.to_csv(out_dir / "holdout.csv", index=False)
            if comp.test is None:  # the labelled holdout is what there is to submit; never over the test's
                write_submission(out_dir / "submission.csv", None, split.ids, probs, classes, id_col,
                                 recipe.data.label_column)
    if comp.tasks:  # each further task's tables and scores (multi-task heads)
        from harness.train.task_outputs import write_tasks

        metrics["task_scores"] = write_tasks(out_dir, comp, id_col, ensemble, metric, folds, results, levels, pooled)
    if levels:  # a leaf run of a hierarchy: every level's score, each level read off the top leaf
        metrics["level_accuracy"] = {"oof": level_scores(levels, y, oof[done])}
        if "holdout" in pooled and comp.holdout is not None and comp.holdout.labels is not None:
            metrics["level_accuracy"]["holdout"] = level_scores(levels, comp.holdout.labels, pooled["holdout"])
    rates = [x for r in results for x in r.train_img_per_s]
    waits = [h["data_wait_fraction"] for r in results for h in r.history if "data_wait_fraction" in h]
    metrics.update({
        "train_img_per_s": statistics.median(rates) if rates else 0.0,
        "predict_img_per_s": statistics.median([r.predict_img_per_s for r in results]) if results else 0.0,
        "data_wait_fraction": statistics.median(waits) if waits else 0.0,
        "epochs_run": {str(r.fold): len(r.history) for r in results},
        "device": str(acc.device),
        "mixed_precision": acc.mixed_precision,
        "wall_seconds": round(time.perf_counter() - started, 2),
        # where the wall time went: the screen (with any cache or array build), predicting (every fold,
        # set and view), writing the folds' files, and writing this run's tables; epochs are log.jsonl's
        "stage_seconds": {**{k: round(v, 3) for k, v in stages.items()},
                          "predict": round(sum(r.predict_seconds for r in results), 3),
                          "write_run": round(time.perf_counter() - writing, 3)},
    })
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    history = [h for r in results for h in r.history]
    if history:
        (out_dir / "learning_curve.png").write_bytes(learning_curves(history, metric.name))  # report.html embeds it
    return metrics


def _finite(x: float) -> float | None:
    return x if np.isfinite(x) else None  # JSON has no NaN


def _leaf_levels(recipe: Recipe, comp: Competition) -> Levels:
    """A leaf run's hierarchy levels (`harness.hierarchy.levels`); {} for a run without one, or at one level or branch."""
    if not recipe.data.hierarchy or recipe.data.level or recipe.data.branch:
        return {}
    from harness.hierarchy.folders import load_tree

    return tree_levels(load_tree(recipe.data.hierarchy, comp.root, recipe.data.train_dir, comp.classes))


def _manifest(comp: Competition, recipe: Recipe, metric: MetricSpec, folds: np.ndarray, source: str,
              results: list[FoldResult], processes: int, per_process: int, levels: Levels) -> RunManifest:
    from harness import __version__

    cfg = recipe.train
    return RunManifest(
        kind="run", classes=comp.classes, metric=metric.name, higher_is_better=metric.higher_is_better,
        id_column=recipe.data.id_column, folds=recipe.cv.folds, folds_sha256=folds_hash(comp.train.ids, folds),
        folds_source=source, cv_seed=recipe.cv.seed, fraction=recipe.data.fraction,
        train=id_set(comp.train.ids), test=id_set(comp.test.ids) if comp.test else None,
        holdout=id_set(comp.holdout.ids) if comp.holdout else None, recipe_sha256=recipe_sha256(recipe),
        harness_version=__version__, git_commit=git_commit(), processes=processes, global_batch=cfg.batch_size,
        per_process_batch=per_process, grad_accum=cfg.grad_accum, lr=effective_lr(recipe),
        tta_views=tuple(results[0].oof) if results else (), folds_trained=tuple(r.fold for r in results),
        extra={"versions": _versions(), **({"tasks": {t.name: list(t.classes) for t in comp.tasks}} if comp.tasks else {}),
               **({"levels": levels_extra(levels)} if levels else {})},
    )


def _versions() -> dict[str, str]:
    """What the run ran on, for its report: library versions and the accelerator."""
    import platform

    import accelerate
    import timm

    out = {"python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
           "accelerate": accelerate.__version__}
    return out | ({"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {})


__all__ = ["run_experiment", "RunSummary", "HarnessError"]
