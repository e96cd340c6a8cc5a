"""What a tuning leaves in its folder:

- `trials.csv`: one row per trial: number, state, value, cv_score_se (the value's standard error,
  a bootstrap over its OOF rows), cv_rows (how many OOF rows scored it), cv_log_loss (of its OOF
  probabilities, which breaks ties for the best trial), duration_s, where a pruned trial stopped
  (pruned_fold, pruned_epoch counted from 1, pruned_step as reported to Optuna), baseline (the
  recipe's own values), worker, folder (the trial's run), error,
  then one column per searched recipe key;
- `best.toml`: the resolved recipe with the best trial's values, without the trial shortcuts or
  [tune]: `harness run DIR/best.toml`;
- `optimization_history.png`, `parallel_coordinate.png`, `param_importances.png` (from 2 complete
  trials on): Optuna's matplotlib plots;
- `summary.json`: the study, its counts, the best trial, and the refit's scores with `--refit`;
- `trials/NNNN/`: each trial's run folder (`train.log` holds its training output).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.config.recipe import recipe_text
from harness.config.schema import Recipe
from harness.tune.best import BASELINE_ATTR, LOSS_ATTR, ROWS_ATTR, SE_ATTR

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def trials_frame(trials: Sequence[FrozenTrial], keys: Sequence[str]) -> pd.DataFrame:
    rows = []
    for t in trials:
        if t.user_attrs.get("surplus"):
            continue  # a placeholder that never ran
        a = t.user_attrs
        rows.append({
            "number": t.number, "state": t.state.name, "value": t.value, SE_ATTR: a.get(SE_ATTR),
            ROWS_ATTR: a.get(ROWS_ATTR), LOSS_ATTR: a.get(LOSS_ATTR),
            "duration_s": round(t.duration.total_seconds(), 2) if t.duration is not None else None,
            "pruned_fold": a.get("pruned_fold"), "pruned_epoch": a.get("pruned_epoch"), "pruned_step": a.get("pruned_step"),
            "baseline": bool(a.get(BASELINE_ATTR)), "worker": a.get("worker", ""), "folder": a.get("folder", ""),
            "error": a.get("error", ""),
            **{k: t.params.get(k) for k in keys},
        })
    columns = ["number", "state", "value", SE_ATTR, ROWS_ATTR, LOSS_ATTR, "duration_s", "pruned_fold", "pruned_epoch",
               "pruned_step", "baseline", "worker", "folder", "error", *keys]
    return pd.DataFrame(rows, columns=columns)


def write_trials(trials: Sequence[FrozenTrial], keys: Sequence[str], path: Path) -> None:
    _atomic_write(path, trials_frame(trials, keys).to_csv(index=False))


def write_best(recipe: Recipe, header: Sequence[str], path: Path) -> None:
    _atomic_write(path, "".join(f"# {line}\n" for line in header) + "\n" + recipe_text(recipe))


def write_plots(study: optuna.Study, folder: Path, n_params: int) -> list[str]:
    """Optuna's matplotlib plots as PNGs; the names of those written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis
    from optuna.trial import TrialState

    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    plots: list[tuple[str, Any]] = []
    if complete >= 1:
        plots += [("optimization_history", vis.plot_optimization_history), ("parallel_coordinate", vis.plot_parallel_coordinate)]
    if complete >= 2 and n_params >= 1:
        plots.append(("param_importances", vis.plot_param_importances))
    written = []
    for name, plot in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                ax = plot(study)
            except (RuntimeError, ValueError) as exc:  # e.g. importances when every trial has the same values
                print(f"harness: warning: {name}.png not drawn: {exc}", flush=True)
                continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(f"{name}.png")
    return written


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    _atomic_write(folder / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


__all__ = ["trials_frame", "write_trials", "write_best", "write_plots", "write_summary"]
