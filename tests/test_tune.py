"""`harness tune` without training: the [tune] space and its validation, samplers and pruners,
storages, the stale-trial retry and the exact trial count, on real Optuna studies."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from harness.config.recipe import load_recipe
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.tune.objective import surplus
from harness.tune.outputs import trials_frame
from harness.tune.pruner import OptunaPruning, make_pruner
from harness.tune.recipes import TuneRecipe, nested
from harness.tune.sampler import grid_of, grid_size, make_sampler
from harness.tune.space import Choice, FloatRange, IntRange, parse_tune
from harness.tune.storage import Heartbeat, Store, check_workers, fail_stale, open_store
from harness.tune.workers import Tally

from .conftest import TINY

TUNE = """
[tune]
folds = [0]
fraction = 0.5
train.lr = {low = 1e-4, high = 1e-2, log = true}
train.epochs = {low = 2, high = 6, step = 2}
"""


def recipe_file(tmp_path: Path, tune: str, root: str = "data") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(TINY.format(root=root) + tune)
    return path


def load(tmp_path: Path, tune: str) -> TuneRecipe:
    plugins = load_plugins(extra=(OptunaPruning(),))
    spec = TuneRecipe.load(recipe_file(tmp_path, tune), (), plugins)
    spec.check(plugins)
    return spec


def test_space_parses_ranges_choices_and_settings() -> None:
    settings, space = parse_tune({
        "folds": [0], "epochs": 3, "fraction": 0.5,
        "train": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "epochs": {"low": 2, "high": 6, "step": 2}},
        "batch_transforms": {"mixup_cutmix": {"cutmix_alpha": {"choices": [0.0, 0.5, 1.0]}}},
        "loss": {"name": {"choices": ["cross_entropy", "binary_cross_entropy"]}},
    })
    assert settings.folds == (0,) and settings.epochs == 3 and settings.fraction == 0.5 and settings.search == "tpe"
    assert space == (FloatRange("train.lr", 1e-4, 1e-2, None, True), IntRange("train.epochs", 2, 6, 2),
                     Choice("batch_transforms.mixup_cutmix.cutmix_alpha", (0.0, 0.5, 1.0)),
                     Choice("loss.name", ("cross_entropy", "binary_cross_entropy")))
    assert IntRange("train.epochs", 2, 6, 2).grid() == [2, 4, 6]


@pytest.mark.parametrize("table, message", [
    ({"train": {"lr": {"low": 1.0, "high": 0.1}}}, "tune.train.lr: low (1.0) must be below high (0.1)"),
    ({"train": {"lr": {"low": 0.0, "high": 0.1, "log": True}}}, "tune.train.lr: a log range needs low > 0"),
    ({"train": {"lr": {"lo": 0.1, "high": 1.0}}}, "tune.train.lr: unknown key 'lo' (did you mean 'low'?)"),
    ({"train": {"lr": {"low": 0.1}}}, "tune.train.lr: a range needs both low and high"),
    ({"train": {"epochs": {"low": 1, "high": 4, "step": 0}}}, "tune.train.epochs: step must be a number > 0"),
    ({"train": {"lr": {"low": 1e-3, "high": 1.0, "step": 0.1, "log": True}}}, "tune.train.lr: step and log exclude"),
    ({"loss": {"name": {"choices": []}}}, "tune.loss.name: choices must be a non-empty list"),
    ({"loss": {"name": {"choices": [[1]]}}}, "tune.loss.name: a choice must be a number"),
    ({"train": {"lr": 0.1}}, "tune.train.lr = 0.1: a searched key takes a range or choices"),
    ({"epoch": 3, "train": {"lr": {"choices": [0.1]}}}, "unknown key 'tune.epoch' (did you mean 'epochs'?)"),
    ({"trian": {"lr": {"choices": [0.1]}}}, "unknown key 'tune.trian' (did you mean 'train'?)"),
    ({"epochs": 3}, "[tune] searches nothing"),
])
def test_a_wrong_space_names_the_key(table: dict, message: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_tune(table)
    assert message in str(info.value)


def test_an_unknown_recipe_key_fails_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        load(tmp_path, "[tune]\ntrain.lrr = {low = 1e-4, high = 1e-2}\n")
    assert "tune.train.lrr" in str(info.value) and "did you mean 'lr'?" in str(info.value)


@pytest.mark.parametrize("tune, message", [
    ("train.lr = {low = -0.1, high = 0.1}", "tune.train.lr: the value -0.1 makes the recipe invalid: train.lr: must be > 0"),
    ("loss.name = {choices = ['cross_entropy', 'focall']}", "no loss named 'focall'"),
    ("model.source = {choices = ['timm', 'tim']}", "model.source: no model named 'tim' (did you mean 'timm'?)"),
    ("train.epochs = {low = 2.0, high = 4.0}", "tune.train.epochs: the value 2.0 makes the recipe invalid"),
    ("loss.smoothing = {choices = [0.0, 1.5]}", "tune.loss.smoothing: the value 1.5"),
    ("model.name = {choices = ['test_resnet', 'test_resnett']}",
     "tune.model.name: the value 'test_resnett' makes the recipe invalid: model.name: timm has no model 'test_resnett'"),
])
def test_an_invalid_searched_value_is_refused_before_any_trial(tmp_path: Path, tune: str, message: str) -> None:
    with pytest.raises(HarnessError) as info:
        load(tmp_path, f"[tune]\n{tune}\n")
    assert message in str(info.value)


def test_component_names_are_searchable(tmp_path: Path) -> None:
    spec = load(tmp_path, "[tune]\nloss.name = {choices = ['cross_entropy', 'binary_cross_entropy']}\n"
                          "model.name = {choices = ['test_resnet', 'resnet18']}\n"
                          "batch_transforms.mixup_cutmix.cutmix_alpha = {choices = [0.0, 1.0]}\n")
    plugins = load_plugins(extra=(OptunaPruning(),))
    recipe = spec.trial_recipe({"loss.name": "binary_cross_entropy", "model.name": "resnet18",
                                "batch_transforms.mixup_cutmix.cutmix_alpha": 1.0}, 2, plugins)
    assert recipe.loss.name == "binary_cross_entropy" and recipe.model.name == "resnet18"
    assert [s.name for s in recipe.batch_transforms] == ["mixup_cutmix"]
    assert recipe.batch_transforms[0].options.cutmix_alpha == 1.0


def test_trial_shortcuts_apply_to_trials_only(tmp_path: Path) -> None:
    spec = load(tmp_path, TUNE)
    plugins = load_plugins(extra=(OptunaPruning(),))
    trial = spec.trial_recipe({"train.lr": 0.005, "train.epochs": 4}, 6, plugins)
    assert trial.cv.only == (0,) and trial.data.fraction == 0.5 and trial.train.lr == 0.005
    assert [c.name for c in trial.callbacks] == ["optuna_pruner"] and trial.callbacks[0].options.stride == 6
    assert not trial.train.checkpoints  # a trial never resumes
    tuned = spec.tuned_recipe({"train.lr": 0.005, "train.epochs": 4}, load_plugins())
    assert tuned.cv.only == () and tuned.data.fraction == 1.0 and tuned.train.epochs == 4 and tuned.callbacks == ()
    assert tuned.train.checkpoints
    assert tuned.data.root == str((Path.cwd() / "data").resolve())  # relative paths as `harness run` reads them


def test_a_trial_batch_keeps_the_rate_per_image_and_leaves_the_refit_alone(tmp_path: Path) -> None:
    plugins = load_plugins(extra=(OptunaPruning(),))
    path = recipe_file(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.5\nbatch_size = 4"))
    spec = TuneRecipe.load(path, ("train.scale_lr=true",), plugins)
    trial, tuned = spec.trial_recipe({}, 0, plugins), spec.tuned_recipe({}, load_plugins())
    assert (trial.train.batch_size, tuned.train.batch_size) == (4, 8) and trial.train.scale_lr
    assert spec.settings.shortcuts() == {"folds": [0], "epochs": 0, "fraction": 0.5, "batch_size": 4}
    assert "batch_size" not in load(tmp_path, TUNE).settings.shortcuts()  # older studies keep their fingerprint
    caveat = spec.batch_caveat(tuned)
    assert caveat is not None and "batch 4" in caveat and "--set train.batch_size=4" in caveat
    assert load(tmp_path, TUNE).batch_caveat(tuned) is None  # trials at the recipe's own batch


def test_a_winner_of_far_fewer_updates_than_best_toml_comes_with_a_caveat(tmp_path: Path) -> None:
    plugins = load_plugins(extra=(OptunaPruning(),))
    quarter = load(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.25"))
    caveat = quarter.updates_caveat(quarter.tuned_recipe({"train.epochs": 4}, plugins))
    assert caveat is not None and "about 25% of best.toml's optimizer updates" in caveat and "at batch 8" in caveat
    half = load(tmp_path, TUNE)  # half the rows: within the rule's reach
    assert half.updates_caveat(half.tuned_recipe({"train.epochs": 4}, plugins)) is None
    path = recipe_file(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.25\nbatch_size = 2"))
    small = TuneRecipe.load(path, ("train.scale_lr=true",), plugins)  # a quarter of the rows at a quarter of the batch
    assert small.updates_caveat(small.tuned_recipe({}, plugins)) is None


def test_a_trial_batch_without_a_per_image_rate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="set train.scale_lr = true"):
        load(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.5\nbatch_size = 4"))
    load(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.5\nbatch_size = 8"))  # the recipe's own batch


def test_a_shortcut_and_a_searched_key_cannot_both_set_epochs(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="tune.epochs fixes train.epochs"):
        load(tmp_path, TUNE.replace("fraction = 0.5", "fraction = 0.5\nepochs = 2"))


def test_harness_run_ignores_the_tune_section(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, TUNE))
    assert recipe.train.epochs == 2 and recipe.cv.only == ()


def test_the_baseline_is_the_recipe_s_own_values_inside_the_space(tmp_path: Path) -> None:
    spec = load(tmp_path, "[tune]\ntrain.lr = {choices = [0.003, 0.1]}\ntrain.epochs = {low = 3, high = 5}\n"
                          "loss.name = {choices = ['cross_entropy', 'binary_cross_entropy']}\n")
    assert spec.baseline(load_plugins()) == {"train.lr": 0.003, "loss.name": "cross_entropy"}  # epochs 2 is outside


def test_nested_keys() -> None:
    assert nested("batch_transforms.mixup_cutmix.cutmix_alpha", 1.0) == {
        "batch_transforms": {"mixup_cutmix": {"cutmix_alpha": 1.0}}}


def test_samplers_and_pruners_by_name() -> None:
    space = (Choice("loss.name", ("a", "b")), IntRange("train.epochs", 2, 6, 2))
    assert isinstance(make_sampler("tpe", space, 0), optuna.samplers.TPESampler)
    assert isinstance(make_sampler("random", space, 0), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler("grid", space, 0), optuna.samplers.GridSampler)
    assert grid_of(space) == {"loss.name": ["a", "b"], "train.epochs": [2, 4, 6]} and grid_size(space) == 6
    with pytest.raises(HarnessError, match="tune.train.lr is a continuous range"):
        make_sampler("grid", (FloatRange("train.lr", 1e-4, 1e-2),), 0)
    try:
        import cmaes  # noqa: F401
    except ImportError:
        with pytest.raises(HarnessError, match="pip install cmaes"):
            make_sampler("cmaes", space, 0)
    else:
        assert isinstance(make_sampler("cmaes", space, 0), optuna.samplers.CmaEsSampler)
    assert isinstance(make_pruner("median", 1, 0, 6), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("halving", 1, 0, 6), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("hyperband", 1, 0, 6), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner("none", 1, 0, 6), optuna.pruners.NopPruner)


def _study_with_curves(pruner: optuna.pruners.BasePruner, direction: str, curves: list[list[float]]) -> optuna.Study:
    study = optuna.create_study(direction=direction, pruner=pruner)
    for curve in curves:
        study.add_trial(optuna.create_trial(value=curve[-1], params={}, distributions={},
                                            intermediate_values=dict(enumerate(curve))))
    return study


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_worst_pruner_stops_only_a_trial_behind_every_complete_one(direction: str) -> None:
    """Three complete trials score 0.45, 0.50 and 0.55 after epoch 1 (1 - those, minimizing). A new
    trial at 0.48 is below the median, where the early ranks of a one-cycle study did not hold: the
    median rule stops it, `worst` does not. At 0.40, below all three, both stop it."""
    sign = 1.0 if direction == "maximize" else -1.0
    curves = [[sign * v, sign * (v + 0.3)] for v in (0.45, 0.50, 0.55)]

    def stopped(name: str, first: float) -> bool:
        study = _study_with_curves(make_pruner(name, 3, 0, 2), direction, curves)
        trial = study.ask()
        trial.report(sign * first, 0)
        return trial.should_prune()

    assert stopped("median", 0.48) and not stopped("worst", 0.48)
    assert stopped("median", 0.40) and stopped("worst", 0.40)
    assert not stopped("worst", 0.46)
    from harness.cli.tune import PRUNER_CHOICES
    from harness.tune.space import PRUNERS, TuneSettings

    assert PRUNER_CHOICES == PRUNERS and TuneSettings().pruner == "worst"


def test_sqlite_refuses_several_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_workers("journal:x", 4)
    check_workers("postgresql://u@h/db", 4)
    check_workers("sqlite:///x.db", 1)
    with pytest.raises(HarnessError) as info:
        check_workers("sqlite:///x.db", 2)
    assert "journal:" in str(info.value) and "postgresql://" in str(info.value)
    from harness.cli import main

    rc = main(["tune", str(recipe_file(tmp_path, TUNE)), "--n-workers", "2", "--out", str(tmp_path / "t")])
    assert rc == 2 and "SQLite" in capsys.readouterr().err


def test_the_pruning_callback_reports_a_global_epoch_and_stops_the_run() -> None:
    from harness.testing import train_state
    from harness.tune.pruner import ReportAndPrune

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    plugin = OptunaPruning(trial)
    state = train_state({"cv": {"folds": 3, "only": [2, 0]}}, fold=0, epoch=1, metrics={"val_score": 0.9})
    callback = ReportAndPrune(trial, 4, plugin.pruned)
    callback.on_epoch_end(state)  # fold 0 is the second fold trained: step 4 + 1
    assert study.trials[0].intermediate_values == {5: 0.9} and not state.stop
    state.epoch, state.metrics = 2, {"val_score": 0.1}
    callback.on_epoch_end(state)
    assert state.stop and state.stop_run and "pruned by optuna" in state.stop_reason
    assert (plugin.pruned.step, plugin.pruned.fold, plugin.pruned.epoch) == (6, 0, 3)


def test_the_pruning_callback_never_stops_a_trial_after_its_last_epoch() -> None:
    """Fold 0 is the last fold trained, epoch 3 of 3 its last: a stop there saves nothing, so the
    trial completes with its score, where the same value one epoch earlier is pruned."""
    from harness.testing import train_state
    from harness.tune.pruner import ReportAndPrune

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    plugin = OptunaPruning(trial)
    recipe = {"cv": {"folds": 3, "only": [2, 0]}, "train": {"epochs": 3}}
    last = train_state(recipe, fold=0, epoch=2, metrics={"val_score": 0.1})
    ReportAndPrune(trial, 3, plugin.pruned).on_epoch_end(last)
    assert study.trials[0].intermediate_values == {5: 0.1} and not last.stop and plugin.pruned.step is None
    earlier = train_state(recipe, fold=2, epoch=2, metrics={"val_score": 0.1})  # the first fold's last epoch
    ReportAndPrune(trial, 3, plugin.pruned).on_epoch_end(earlier)
    assert earlier.stop and plugin.pruned.step == 2


def _trial(study: optuna.Study, state: TrialState) -> None:
    study.add_trial(optuna.create_trial(state=state, value=0.5 if state == TrialState.COMPLETE else None,
                                        params={}, distributions={}))


def test_a_trial_beyond_the_target_is_surplus() -> None:
    study = optuna.create_study()
    for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.RUNNING):
        _trial(study, state)
    # trials 0, 2, 3 are not failed: with a target of 3, trial 4 is one too many, trial 3 is not
    assert surplus(study, 4, 3) and not surplus(study, 3, 3) and not surplus(study, 4, 4)
    tally = Tally.of(study.get_trials())
    assert (tally.complete, tally.pruned, tally.failed, tally.running, tally.finished) == (1, 1, 1, 1, 2)


def test_a_dead_workers_trial_is_failed_and_queued_again_on_a_journal(tmp_path: Path) -> None:
    store = open_store(f"journal:{tmp_path / 'study.journal'}", heartbeat=1)
    assert isinstance(store, Store) and not store.native and store.grace == 3
    study = optuna.create_study(storage=store.storage, study_name="s")
    alive, dead = study.ask(), study.ask()
    alive.suggest_float("x", 0, 1)
    dead.suggest_float("x", 0, 1)
    with Heartbeat(alive, 1):
        dead.set_user_attr("heartbeat", time.time() - 100)
        other = optuna.load_study(study_name="s", storage=store.storage)
        assert fail_stale(other, store) == []  # its start counts as a heartbeat: not stale yet
        time.sleep(3.5)
        assert fail_stale(other, store) == [dead.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[alive.number] == TrialState.RUNNING and states[dead.number] == TrialState.FAIL
    retry = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == {"x": dead.params["x"]}
    assert fail_stale(other, store) == []  # already failed: not queued twice


def test_sqlite_storage_has_optuna_s_heartbeat(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'study.db'}", heartbeat=2)
    assert store.native and store.storage.get_heartbeat_interval() == 2


def test_a_missing_driver_says_what_to_install() -> None:
    with pytest.raises(HarnessError, match="pip install"):
        open_store("postgresql+pg8000://u@localhost/db", heartbeat=5)


def test_trials_frame_has_a_column_per_searched_key() -> None:
    study = optuna.create_study()
    study.enqueue_trial({"train.lr": 0.01}, user_attrs={"baseline": True})
    study.optimize(lambda t: t.suggest_float("train.lr", 1e-4, 1e-1, log=True), n_trials=2)
    frame = trials_frame(study.get_trials(), ["train.lr"])
    assert list(frame.columns[:3]) == ["number", "state", "value"] and frame["train.lr"].iloc[0] == 0.01
    assert list(frame.baseline) == [True, False] and "pruned_epoch" in frame.columns
