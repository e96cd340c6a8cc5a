"""The `[tune]` section of a recipe: the trial settings and the search space.

    [tune]
    folds = [0]        # trials train these folds only (cv.only)
    epochs = 3         # trials' train.epochs
    fraction = 0.5     # trials' data.fraction
    batch_size = 256   # trials' train.batch_size (needs train.scale_lr: the rate then carries over)
    train.lr = {low = 1e-4, high = 1e-2, log = true}
    train.epochs = {low = 2, high = 6, step = 2}
    loss.name = {choices = ["cross_entropy", "binary_cross_entropy"]}
    batch_transforms.mixup_cutmix.cutmix_alpha = {choices = [0.0, 0.5, 1.0]}

A key of the section is a trial setting (`TuneSettings`) or a dotted recipe key. A recipe key takes
a range (`low`, `high`, optional `step` or `log`; integers when both bounds are) or `choices`. Its
values go through Optuna's `suggest_int` / `suggest_float` / `suggest_categorical` under the
recipe key as the parameter name, so a study reads like the recipe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

from harness.config.recipe import TOP_LEVEL
from harness.config.typed import from_dict, require
from harness.errors import HarnessError, suggest

if TYPE_CHECKING:
    import optuna

SPEC_KEYS = ("low", "high", "step", "log", "choices")
Scalar = bool | int | float | str
Search = Literal["tpe", "random", "cmaes", "grid"]
PrunerName = Literal["worst", "median", "halving", "hyperband", "none"]
PRUNERS: tuple[str, ...] = get_args(PrunerName)
# the trial shortcuts: a setting of [tune] that fixes a recipe key for every trial, not the refit
TRIAL_KEYS = {"folds": "cv.only", "epochs": "train.epochs", "fraction": "data.fraction", "batch_size": "train.batch_size"}


@dataclass(frozen=True)
class TuneSettings:
    """How trials run and how the study searches. 0 / empty means "as the recipe says"."""

    trials: int = 20  # finished (complete or pruned) trials the study should hold; --trials overrides
    folds: tuple[int, ...] = ()  # trials train only these folds (cv.only)
    epochs: int = 0  # trials' train.epochs
    fraction: float = 0.0  # trials' data.fraction
    # trials' train.batch_size: a fraction's trial at a smaller batch takes as many updates as the
    # full run; needs train.scale_lr, so that train.lr (per 256 images) means the same at both batches
    batch_size: int = 0
    search: Search = "tpe"  # Optuna's sampler; --sampler overrides
    # --pruner overrides. worst: stop a trial only once its best score so far is below every complete
    # trial's at that epoch (harness.tune.pruner: the median rule stopped the eventual winner)
    pruner: PrunerName = "worst"
    startup_trials: int = 5  # worst and median pruners: trials finished before any is pruned
    warmup_epochs: int = 1  # worst and median pruners: epochs (Optuna steps) reported before a trial can be pruned
    seed: int = -1  # the sampler's seed (worker k adds k); -1: unseeded
    baseline: bool = True  # a new study's first trial is the recipe's own values (those inside the space)
    # trials predict the test and holdout sets and render report.html, as a run does; off, a trial
    # writes its OOF and scores alone, which is all the search reads (the refit predicts in full)
    predict: bool = False

    def validate(self, where: str) -> None:
        require(self.trials >= 1, f"{where}.trials", "must be >= 1")
        require(self.epochs >= 0, f"{where}.epochs", "must be >= 0 (0: the recipe's train.epochs)")
        require(0.0 <= self.fraction <= 1.0, f"{where}.fraction", "must be in (0, 1] (0: the recipe's data.fraction)")
        require(self.batch_size >= 0, f"{where}.batch_size", "must be >= 0 (0: the recipe's train.batch_size)")
        require(self.startup_trials >= 0, f"{where}.startup_trials", "must be >= 0")
        require(self.warmup_epochs >= 0, f"{where}.warmup_epochs", "must be >= 0")
        require(self.seed >= -1, f"{where}.seed", "must be >= 0, or -1 for unseeded")

    def shortcuts(self) -> dict[str, Any]:
        """The trial shortcuts by setting name (0 / []: the recipe's), as a study and summary.json
        show them; batch_size only where set, so that older studies keep their fingerprint."""
        values = {name: getattr(self, name) for name in TRIAL_KEYS}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v or k != "batch_size"}


@dataclass(frozen=True)
class FloatRange:
    key: str
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def suggest(self, trial: optuna.Trial) -> float:
        return float(trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log))

    def bounds(self) -> tuple[Scalar, ...]:
        return (self.low, self.high)

    def contains(self, value: Any) -> bool:
        if not _number(value) or not self.low <= value <= self.high:
            return False
        return self.step is None or abs((value - self.low) / self.step - round((value - self.low) / self.step)) < 1e-9

    def grid(self) -> list[Scalar] | None:
        if self.step is None:
            return None
        n = int(round((self.high - self.low) / self.step))
        return [self.low + i * self.step for i in range(n + 1) if self.low + i * self.step <= self.high + 1e-12]


@dataclass(frozen=True)
class IntRange:
    key: str
    low: int
    high: int
    step: int = 1
    log: bool = False

    def suggest(self, trial: optuna.Trial) -> int:
        return int(trial.suggest_int(self.key, self.low, self.high, step=self.step, log=self.log))

    def bounds(self) -> tuple[Scalar, ...]:
        return (self.low, self.high)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high \
            and (value - self.low) % self.step == 0

    def grid(self) -> list[Scalar] | None:
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class Choice:
    key: str
    choices: tuple[Scalar, ...]

    def suggest(self, trial: optuna.Trial) -> Scalar:
        value = trial.suggest_categorical(self.key, self.choices)
        assert value is not None  # the choices hold no None
        return value

    def bounds(self) -> tuple[Scalar, ...]:
        return self.choices

    def contains(self, value: Any) -> bool:
        return any(type(value) is type(c) and value == c for c in self.choices) or (
            _number(value) and any(_number(c) and float(c) == float(value) for c in self.choices))

    def grid(self) -> list[Scalar] | None:
        return list(self.choices)


Param = FloatRange | IntRange | Choice


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_param(key: str, spec: Mapping[str, Any]) -> Param:
    """One searched key: `{low, high[, step | log]}` or `{choices}`; an error names the key."""
    where = f"tune.{key}"
    for k in spec:
        if k not in SPEC_KEYS:
            raise HarnessError(f"{where}: unknown key '{k}'{suggest(k, SPEC_KEYS)}; a range takes low, high and "
                               "step or log, a list takes choices")
    if "choices" in spec:
        choices = spec["choices"]
        require(len(spec) == 1, where, "choices exclude low, high, step and log")
        require(isinstance(choices, list) and len(choices) > 0, where, f"choices must be a non-empty list, got {choices!r}")
        for c in choices:
            require(isinstance(c, (bool, int, float, str)), where, f"a choice must be a number, a string or a boolean, got {c!r}")
        require(len({json.dumps(c) for c in choices}) == len(choices), where, "lists a choice more than once")
        return Choice(key, tuple(choices))
    low: Any = spec.get("low")
    high: Any = spec.get("high")
    step: Any = spec.get("step")
    log: Any = spec.get("log", False)
    require(low is not None and high is not None, where, "a range needs both low and high (or give choices)")
    require(_number(low) and _number(high), where, f"low and high must be numbers, got {low!r} and {high!r}")
    require(low < high, where, f"low ({low}) must be below high ({high})")
    require(isinstance(log, bool), where, f"log must be true or false, got {log!r}")
    require(step is None or (_number(step) and step > 0), where, f"step must be a number > 0, got {step!r}")
    require(not (log and step is not None), where, "step and log exclude each other (Optuna samples one or the other)")
    require(not log or low > 0, where, f"a log range needs low > 0, got {low}")
    if all(isinstance(v, int) for v in (low, high, step or 1)):
        return IntRange(key, low, high, step or 1, log)
    return FloatRange(key, float(low), float(high), None if step is None else float(step), log)


def _walk(path: list[str], table: Mapping[str, Any]) -> list[Param]:
    if any(k in SPEC_KEYS for k in table):
        return [parse_param(".".join(path), table)]
    found: list[Param] = []
    for k, v in table.items():
        if not isinstance(v, Mapping):
            raise HarnessError(f"tune.{'.'.join([*path, k])} = {v!r}: a searched key takes a range or choices, "
                               "such as {low = 1e-4, high = 1e-2, log = true} or {choices = [0.0, 0.1]}")
        found += _walk([*path, k], v)
    return found


def parse_tune(table: Any) -> tuple[TuneSettings, tuple[Param, ...]]:
    """The settings and the searched keys of a `[tune]` table."""
    if not isinstance(table, Mapping):
        raise HarnessError(f"'tune' must be a table ([tune]), got {table!r}")
    names = [f.name for f in fields(TuneSettings)]
    sections = [s for s in TOP_LEVEL if s not in ("base", "tune")]
    settings: dict[str, Any] = {}
    space: list[Param] = []
    for key, value in table.items():
        if key in names:
            settings[key] = value
        elif key in sections:
            if not isinstance(value, Mapping):
                raise HarnessError(f"tune.{key} = {value!r}: name the searched key inside it, such as "
                                   f"{key}.NAME = {{choices = [...]}}")
            space += _walk([key], value)
        else:
            raise HarnessError(f"unknown key 'tune.{key}'{suggest(key, [*names, *sections])}; [tune] holds the trial "
                               f"settings ({', '.join(names)}) and searched recipe keys such as "
                               "train.lr = {low = 1e-4, high = 1e-2, log = true}")
    if not space:
        raise HarnessError("[tune] searches nothing: add a recipe key with a range or choices, such as "
                           "train.lr = {low = 1e-4, high = 1e-2, log = true}")
    return from_dict(TuneSettings, settings, "tune"), tuple(space)


def fingerprint(space: tuple[Param, ...], settings: TuneSettings) -> str:
    """What makes trials comparable (the space and the trial shortcuts), stored with the study."""
    return json.dumps({"space": [{"kind": type(p).__name__, **asdict(p)} for p in space], "trials": settings.shortcuts()},
                      sort_keys=True)


__all__ = ["PRUNERS", "TRIAL_KEYS", "TuneSettings", "FloatRange", "IntRange", "Choice", "Param", "parse_tune", "parse_param",
           "fingerprint"]
