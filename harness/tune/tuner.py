"""`harness tune`, from options to outputs: validate the recipe's space, open (or resume) the study,
run the trials here or in worker processes, then write the outputs and, with `refit`, train the
best recipe in full."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.console import warn
from harness.errors import HarnessError
from harness.plugin_manager import Plugins, load_plugins
from harness.tune.best import BASELINE_ATTR, ROWS_ATTR, SE_ATTR, best_trial, within_one_se
from harness.tune.objective import Ranks, TrialRunner
from harness.tune.outputs import write_best, write_plots, write_summary, write_trials
from harness.tune.progress import TrialProgress
from harness.tune.pruner import OptunaPruning, make_pruner
from harness.tune.recipes import TuneRecipe, trial_folds
from harness.tune.sampler import grid_size, make_sampler
from harness.tune.space import fingerprint
from harness.tune.storage import check_workers, default_url, open_store
from harness.tune.workers import Tally, spawn, watch, work

if TYPE_CHECKING:
    import optuna

    from harness.config.schema import Recipe
    from harness.tune.storage import Store

SPACE_ATTR = "harness_space"
Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class TuneOptions:
    recipe: Path
    overrides: tuple[str, ...] = ()
    out: Path | None = None  # default: runs/tune-RECIPE_NAME
    storage: str | None = None  # default: sqlite:///OUT/study.db
    study_name: str | None = None  # default: the recipe's name
    trials: int | None = None  # default: tune.trials
    sampler: str | None = None  # default: tune.search
    pruner: str | None = None  # default: tune.pruner
    n_workers: int = 1
    worker: int = 0  # > 0: worker K started by --n-workers (no outputs, no refit)
    heartbeat: int = 60  # seconds between heartbeats of a running trial
    refit: bool = False


def say(text: str) -> None:
    print(text, flush=True)


def _open_study(opts: TuneOptions, spec: TuneRecipe, url: str, name: str, direction: Direction, search: str,
                pruner: str, max_steps: int) -> tuple[optuna.Study, Store]:
    import optuna

    s = spec.settings
    store = open_store(url, opts.heartbeat)
    seed = None if s.seed < 0 else s.seed + opts.worker
    study = optuna.create_study(storage=store.storage, study_name=name, direction=direction, load_if_exists=True,
                                sampler=make_sampler(search, spec.space, seed),
                                pruner=make_pruner(pruner, s.startup_trials, s.warmup_epochs, max_steps))
    if study.direction.name.lower() != direction:
        raise HarnessError(f"study {name!r} in {url} {study.direction.name.lower()}s, and this recipe's metric needs "
                           f"{direction}: name another study (--study-name)")
    mine = fingerprint(spec.space, s)
    theirs = study.user_attrs.get(SPACE_ATTR)
    if theirs is None:
        study.set_user_attr(SPACE_ATTR, mine)
    elif theirs != mine:
        raise HarnessError(f"study {name!r} in {url} was made with another search space or other trial settings; "
                           "its trials do not compare with these: name a new study (--study-name) or folder (--out)")
    return study, store


def _fresh(folder: Path) -> Path:
    out, n = folder, 1
    while (out / "recipe.toml").exists():
        n += 1
        out = folder.with_name(f"{folder.name}-{n}")
    return out


def _refit(spec: TuneRecipe, values: dict[str, Any], out: Path) -> dict[str, Any]:
    from harness.train.run import run_experiment

    plugins = load_plugins()
    return run_experiment(spec.tuned_recipe(values, plugins), out, plugins, keep_process_group=True).metrics


def tune(opts: TuneOptions, worker_argv: Callable[[TuneOptions, int], list[str]]) -> dict[str, Any]:
    """Run the tuning that `opts` describes; the summary (also `summary.json`) on the main process."""
    import optuna

    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the progress says what Optuna would, once
    ranks = Ranks.current()
    plugins = load_plugins(extra=(OptunaPruning(None),))
    spec = TuneRecipe.load(opts.recipe, opts.overrides, plugins)
    base = spec.check(plugins)
    s = spec.settings
    folder = opts.out or Path("runs") / f"tune-{spec.name}"
    url = opts.storage or default_url(folder)
    name = opts.study_name or spec.name
    check_workers(url, opts.n_workers)
    if opts.n_workers > 1 and ranks.count > 1:
        raise HarnessError("--n-workers starts its own processes; under accelerate launch, each launch is one worker "
                           "(start several launches on the same --storage instead)")
    n_trials = opts.trials or s.trials
    search, pruner = opts.sampler or s.search, opts.pruner or s.pruner
    if search == "grid" and n_trials > grid_size(spec.space):
        if ranks.main:
            say(f"the grid has {grid_size(spec.space)} points: {n_trials} trials capped to that")
        n_trials = grid_size(spec.space)
    stride = spec.stride(base)
    runner = TrialRunner(spec, folder, stride, ranks, n_trials)
    if not ranks.main:
        runner.follow(lambda values, out: _refit(spec, values, Path(out)))
        ranks.close()
        return {}
    try:
        return _main(opts, spec, runner, url, name, search, pruner, len(trial_folds(base)) * stride, base, started,
                     worker_argv, plugins)
    finally:
        ranks.send("stop")
        ranks.close()


def _main(opts: TuneOptions, spec: TuneRecipe, runner: TrialRunner, url: str, name: str, search: str, pruner: str,
          max_steps: int, base: Recipe, started: float, worker_argv: Callable[[TuneOptions, int], list[str]],
          plugins: Plugins) -> dict[str, Any]:
    folder, n_trials = runner.folder, runner.n_trials
    folder.mkdir(parents=True, exist_ok=True)
    metric = plugins.metric(base.cv.metric)
    study, store = _open_study(opts, spec, url, name, metric.direction, search, pruner, max_steps)
    runner.store = store
    baseline = spec.baseline(plugins) if spec.settings.baseline and search != "grid" else {}  # a grid visits it
    if baseline and not study.get_trials(deepcopy=False):
        study.enqueue_trial(baseline, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
    before = Tally.of(study.get_trials(deepcopy=False))
    workers = f" on {opts.n_workers} workers" if opts.n_workers > 1 else ""
    if not opts.worker:
        say(f"study {name!r} in {url}: {before.finished} finished trials ({before.complete} complete, {before.pruned} "
            f"pruned; {before.failed} failed, {before.running} running); {max(0, n_trials - before.finished)} more to "
            f"run{workers} ({search} sampler, {pruner} pruner) -> {folder}")
    poll = float(min(5, opts.heartbeat))
    with TrialProgress(n_trials, metric) as progress:
        progress.start(study.get_trials(deepcopy=False))
        if opts.n_workers > 1:
            resolved = replace(opts, out=folder, storage=url, study_name=name, trials=n_trials, sampler=search,
                               pruner=pruner, n_workers=1, refit=False)
            codes = watch(spawn(lambda k: worker_argv(replace(resolved, worker=k), k), opts.n_workers,
                                folder / "workers"), study, progress, poll)
            for k, code in enumerate(codes, 1):
                if code:
                    say(f"harness: warning: worker {k} exited with code {code} (log: {folder / 'workers'}/worker-{k}.log)")
        else:
            work(study, runner, store, progress, poll)
    if opts.worker:
        return {}
    return _finish(opts, spec, study, runner, url, name, base, started)


def _finish(opts: TuneOptions, spec: TuneRecipe, study: optuna.Study, runner: TrialRunner, url: str, name: str, base: Recipe,
            started: float) -> dict[str, Any]:
    from optuna.trial import TrialState

    folder, n_trials, metric = runner.folder, runner.n_trials, base.cv.metric
    trials = study.get_trials(deepcopy=False)
    tally = Tally.of(trials)
    keys = [p.key for p in spec.space]
    write_trials(trials, keys, folder / "trials.csv")
    shortcuts = spec.settings.shortcuts()
    summary: dict[str, Any] = {"study": name, "storage": url, "metric": metric, "direction": study.direction.name.lower(),
                               "trials_requested": n_trials, **asdict(tally), "trial_settings": shortcuts,
                               "wall_seconds": round(time.perf_counter() - started, 1)}
    if tally.finished < n_trials:
        write_summary(folder, summary)
        raise HarnessError(f"the study holds {tally.finished} of {n_trials} finished trials (see {folder / 'workers'}): "
                           "run the same command again to continue it")
    summary["plots"] = write_plots(study, folder, len(keys))
    if not any(t.state == TrialState.COMPLETE for t in trials):
        write_summary(folder, summary)
        say(f"no trial completed ({tally.pruned} pruned, {tally.failed} failed): no best.toml")
        return summary
    best = best_trial(study)  # ties go to the lowest OOF log loss
    plugins = load_plugins()
    header = [f"Tuned by `harness tune {spec.path.name}`: trial {best.number} of study {name!r} ({url}),",
              f"cv {metric} {best.value:.4f}"
              + (f" +- {best.user_attrs[SE_ATTR]:.4f} (SE)" if best.user_attrs.get(SE_ATTR) is not None else "")
              + f" on the trial settings {shortcuts} (0 / []: the recipe's).",
              f"Searched: {', '.join(f'{k} = {best.params[k]!r}' for k in keys)}."]
    own = bool(best.user_attrs.get(BASELINE_ATTR))  # the recipe's own values won: best.toml changes nothing
    if own:
        header.append("The recipe's own values scored best: this is the recipe as it was.")
    tuned = spec.tuned_recipe(best.params, plugins)
    caveats = [c for c in (spec.batch_caveat(tuned), spec.updates_caveat(tuned)) if c]
    write_best(tuned, header + [f"Caveat: {c}." for c in caveats], folder / "best.toml")
    se, rows, close = best.user_attrs.get(SE_ATTR), best.user_attrs.get(ROWS_ATTR), within_one_se(study, best)
    summary["best"] = {"number": best.number, "value": best.value, "se": se, "rows": rows, "params": best.params,
                       "within_one_se": close, "baseline": own}
    summary["caveats"] = caveats
    shown = f" ± {se:.4f} (SE over {int(rows or 0)} OOF rows)" if se is not None else ""
    whose = ", the recipe's own values" if own else ""
    say(f"{tally.finished} trials ({tally.complete} complete, {tally.pruned} pruned, {tally.failed} failed) in "
        f"{summary['wall_seconds']:.0f} s; best cv {metric} {best.value:.4f}{shown} (trial {best.number}{whose}) -> "
        f"{folder / 'best.toml'}")
    if close:
        warn(f"{len(close)} other trial(s) score within one standard error of the best ({', '.join(map(str, close[:8]))}"
             f"{', ...' if len(close) > 8 else ''}): on {int(rows or 0)} OOF rows the study cannot tell them apart, so "
             "the best is a tie as much as a win; give each trial more validation rows (a larger tune.fraction, "
             "more tune.folds) before trusting it")
    for caveat in caveats:
        warn(caveat)
    if opts.refit:
        out = _fresh(folder / "refit")
        runner.ranks.send("refit", best.params, str(out))
        m = _refit(spec, best.params, out)
        summary["refit"] = {"dir": str(out), "cv_score": m.get("cv_score"), "holdout_score": m.get("holdout_score"),
                            "trial_value": best.value}
        holdout = f", holdout {m['holdout_score']:.4f}" if "holdout_score" in m else ""
        say(f"refit in full: cv {metric} {m['cv_score']:.4f}{holdout}; the best trial scored {best.value:.4f} "
            f"on its shortcuts -> {out}")
    write_summary(folder, summary)
    say(f"open the study: optuna-dashboard {url}")
    return summary


__all__ = ["TuneOptions", "tune"]
