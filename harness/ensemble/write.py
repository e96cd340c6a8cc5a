"""The ensemble folder, a run folder in every way later tools read: `run.json` (kind "ensemble",
its members, the members' classes, ids and folds), `folds.csv`, `oof.csv`, `fold{k}/logits.npz`
(one view, "ensemble", holding log-probabilities), `test_probs.csv`, `holdout.csv`,
`submission.csv` and `metrics.json`; a multi-task run's further tasks under `tasks/` (`tasks.py`);
plus `ensemble.json`, the members' `correlation.csv` and `correlation.png`, and `mistakes.csv` (the
rows the ensemble gets wrong and which members get them right, `headroom.py`). So an ensemble
folder feeds `harness ensemble` and `harness submit` again.
`run.json` is written last: a folder without it is not a finished ensemble."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.ensemble.correlation import correlation_frame, heatmap, true_class_correlation
from harness.ensemble.headroom import mistakes
from harness.ensemble.members import Member
from harness.ensemble.pipeline import EnsembleResult
from harness.ensemble.tasks import common_tasks, write_task_ensembles
from harness.hierarchy.levels import level_scores, levels_extra, run_levels, same_levels
from harness.metrics import score
from harness.outputs.manifest import RunManifest, git_commit
from harness.outputs.run_hierarchy import shared_settings
from harness.outputs.tables import prob_frame, write_submission

VIEW = "ensemble"


def sample_submission(member: Member) -> tuple[Path | None, str]:
    """The competition's sample submission (found through the member's recipe.toml `data.root` and
    `data.sample_submission`, or an ensemble's run.json) and the label column name."""
    extra = member.manifest.extra
    if "sample_submission" in extra:
        path = Path(extra["sample_submission"]) if extra["sample_submission"] else None
        return (path if path and path.is_file() else None), str(extra.get("label_column", "label"))
    from harness.config.recipe import run_recipe_section

    data = run_recipe_section(member.folder, "data")
    root, label = str(data.get("root", "")), str(data.get("label_column", "label"))
    path = Path(root) / str(data.get("sample_submission", "sample_submission.csv")) if root else None
    return (path if path and path.is_file() else None), label


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-12, 1.0))


def write_ensemble(out: Path, r: EnsembleResult, summary: dict[str, Any]) -> dict[str, Any]:
    """Write every file; returns metrics.json's content."""
    from harness import __version__

    pool, metric = r.pool, r.settings.metric
    ref, classes, id_col = pool.manifest, pool.manifest.classes, pool.manifest.id_column
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pool.members[0].folder / "folds.csv", out / "folds.csv")
    oof = r.written_oof
    frame = prob_frame(pool.ids, oof, classes, id_col)
    frame.insert(1, "label", [classes[i] for i in pool.y])
    frame.insert(2, "fold", pool.fold)
    frame.to_csv(out / "oof.csv", index=False)
    ids = np.array(pool.ids)
    for slot, k in enumerate(pool.folds):
        rows = pool.fold == k
        arrays: dict[str, Any] = {f"oof/{VIEW}": _log(oof[rows]), "oof_ids": ids[rows]}
        for s, per_fold in r.sets.items():
            arrays[f"{s}/{VIEW}"], arrays[f"{s}_ids"] = _log(per_fold[slot]), np.array(pool.set_ids[s])
        (out / f"fold{k}").mkdir(exist_ok=True)
        np.savez_compressed(out / f"fold{k}" / "logits.npz", **arrays)
        result = {"fold": k, "views": [VIEW], "sets": {s: [VIEW] for s in r.sets}}
        (out / f"fold{k}" / "result.json").write_text(json.dumps(result))
    sample_path, label_col = sample_submission(pool.members[0])
    # Scores only; the metric, folds and members are run.json's (below).
    metrics: dict[str, Any] = {"cv_score": score(metric, pool.y, oof), "cv_score_in_sample": summary["scores"]["oof_in_sample"],
                               "members": [m.name for m in pool.members]}
    levels = same_levels([run_levels(m.manifest.extra) for m in pool.members])  # a hierarchy's, read off the top leaf
    if levels:
        metrics["level_accuracy"] = {"oof": level_scores(levels, pool.y, oof)}
    finals = {s: r.final(s) for s in r.sets}  # set -> the ensemble's probabilities
    if "test" in r.sets:
        probs = finals["test"]
        prob_frame(pool.set_ids["test"], probs, classes, id_col).to_csv(out / "test_probs.csv", index=False)
        sample = pd.read_csv(sample_path, dtype=str, keep_default_na=False) if sample_path else None
        write_submission(out / "submission.csv", sample, pool.set_ids["test"], probs, classes, id_col, label_col)
    if "holdout" in r.sets:
        probs = finals["holdout"]
        holdout = prob_frame(pool.set_ids["holdout"], probs, classes, id_col)
        if pool.holdout_y is not None:
            holdout.insert(1, "label", [classes[i] for i in pool.holdout_y])
            metrics["holdout_score"] = summary["scores"]["holdout"]
            if levels:
                metrics["level_accuracy"]["holdout"] = level_scores(levels, pool.holdout_y, probs)
        holdout.to_csv(out / "holdout.csv", index=False)
        if "test" not in r.sets:  # as a run does: the labelled holdout is what there is to submit
            write_submission(out / "submission.csv", None, pool.set_ids["holdout"], probs, classes, id_col, label_col)
    tasks = common_tasks(pool)
    task_scores = write_task_ensembles(out, pool, tasks, r.settings.ensembler, r.plan.weights, metric, levels,
                                       finals)
    if task_scores:
        metrics["task_scores"] = task_scores
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "ensemble.json").write_text(json.dumps(summary, indent=2) + "\n")
    names = [m.name for m in pool.members]
    corr = correlation_frame(true_class_correlation(r.labelled_sets[0].members, pool.y), names)  # the OOF set
    corr.to_csv(out / "correlation.csv")
    heatmap(corr, out / "correlation.png")
    pd.concat([mistakes(ls, classes, names) for ls in r.labelled_sets]).to_csv(out / "mistakes.csv", index=False)
    RunManifest(
        kind="ensemble", classes=classes, metric=metric.name, higher_is_better=metric.higher_is_better, id_column=id_col,
        folds=ref.folds, folds_sha256=ref.folds_sha256, folds_source=ref.folds_source, cv_seed=ref.cv_seed,
        fraction=ref.fraction, train=ref.train, test=ref.test, holdout=ref.holdout, harness_version=__version__,
        git_commit=git_commit(), tta_views=(VIEW,), folds_trained=pool.folds,
        members=tuple(str(m.folder.resolve()) for m in pool.members),
        extra={"method": summary["method"], "sample_submission": str(sample_path.resolve()) if sample_path else "",
               "label_column": label_col, **({"tasks": {t: list(c) for t, c in tasks.items()}} if tasks else {}),
               **({"levels": levels_extra(levels)} if levels else {}),
               **({"hierarchy": hier} if (hier := shared_settings(m.folder for m in pool.members)) else {})},
    ).write(out)
    return metrics
