"""The recipes of a tuning, all from one recipe file with a `[tune]` section:

- the base: the recipe's `base` chain and `--set` overrides, without `[tune]`;
- a trial's: the base with the trial's values, the trial shortcuts (`cv.only`, `train.epochs`,
  `data.fraction`, `train.batch_size`) and the `optuna_pruner` callback;
- the tuned one: the base with the best values and nothing else (`best.toml`).

Every value the space can take at its bounds (each choice, both ends of a range) is substituted
into a trial's recipe and validated before any trial runs, so a negative learning rate or an
unknown component fails at once and names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config.recipe import apply_overrides, build_recipe, load_raw, load_recipe, merge, recipe_to_dict
from harness.config.schema import Recipe
from harness.errors import HarnessError
from harness.plugin_manager import Plugins
from harness.tune.space import TRIAL_KEYS, Choice, IntRange, Param, TuneSettings, parse_tune

PRUNER_CALLBACK = "optuna_pruner"
_MISSING = object()


def check_model(recipe: Recipe, plugins: Plugins) -> None:
    """The model source's own cheap check of the [model] section, where it offers one."""
    spec = plugins.models().get(recipe.model.source)
    if spec is not None and spec.check is not None:
        spec.check(recipe.model)


def nested(key: str, value: Any) -> dict[str, Any]:
    """'train.lr', 0.1 -> {'train': {'lr': 0.1}}."""
    out: dict[str, Any] = {}
    for part in reversed(key.split(".")):
        out = {part: value if not out else out}
    return out


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
    return node


def with_values(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, value in values.items():
        out = merge(out, nested(key, value))
    return out


@dataclass(frozen=True)
class TuneRecipe:
    path: Path
    data: dict[str, Any]  # the base recipe's data: base chain and --set merged, without [tune]
    settings: TuneSettings
    space: tuple[Param, ...]

    @classmethod
    def load(cls, path: Path, overrides: tuple[str, ...], plugins: Plugins) -> TuneRecipe:
        raw = apply_overrides(load_raw(path), overrides)
        if "tune" not in raw:
            raise HarnessError(f"{path} has no [tune] section: add one with the keys to search, such as\n"
                               "[tune]\ntrain.lr = {low = 1e-4, high = 1e-2, log = true}")
        settings, space = parse_tune(raw.pop("tune"))
        base = load_recipe(path, overrides, plugins)  # the base alone must be valid; its paths are resolved
        data = merge(raw, {"data": {"root": base.data.root}, "cv": {"folds_file": base.cv.folds_file}})
        searched = {p.key for p in space}
        for setting, key in TRIAL_KEYS.items():
            if getattr(settings, setting) and key in searched:
                raise HarnessError(f"tune.{setting} fixes {key} for every trial, and [tune] also searches {key}: "
                                   "drop one of the two")
        if settings.batch_size and settings.batch_size != base.train.batch_size and not base.train.scale_lr:
            raise HarnessError(f"tune.batch_size = {settings.batch_size} trains the trials at another batch than the "
                               f"recipe's {base.train.batch_size}, and train.lr is a rate for the recipe's batch: set "
                               "train.scale_lr = true (train.lr then is per 256 images, the same at both batches) "
                               "or drop tune.batch_size")
        return cls(path, data, settings, space)

    @property
    def name(self) -> str:
        return self.path.stem

    def shortcuts(self) -> dict[str, Any]:
        """What makes a trial cheaper than the real run: the [tune] shortcuts, and no checkpoints (a
        trial never resumes)."""
        values = {TRIAL_KEYS[name]: v for name, v in self.settings.shortcuts().items() if v}
        return with_values({}, {"train.checkpoints": False, **values})

    def trial_data(self, values: Mapping[str, Any], stride: int = 0) -> dict[str, Any]:
        data = merge(with_values(self.data, values), self.shortcuts())
        return merge(data, {"callbacks": {PRUNER_CALLBACK: {"stride": stride}}})

    def trial_recipe(self, values: Mapping[str, Any], stride: int, plugins: Plugins) -> Recipe:
        return build_recipe(self.trial_data(values, stride), plugins)

    def tuned_recipe(self, values: Mapping[str, Any], plugins: Plugins) -> Recipe:
        """The full recipe with `values`: no trial shortcuts, no pruning callback."""
        return build_recipe(with_values(self.data, values), plugins)

    def batch_caveat(self, tuned: Recipe) -> str | None:
        """What to check before trusting a winner found at another batch than the one `tuned` trains at."""
        trial, full = self.settings.batch_size, tuned.train.batch_size
        if not trial or trial == full:
            return None
        return (f"the trials trained at batch {trial} and best.toml trains at {full}: train.scale_lr carries the rate "
                f"over by the linear rule, which holds only while the rate stays stable at the larger batch (on "
                f"CIFAR-10 a best trial's doubled rate lost 10 points at 4x the batch; bench/README.md). Run "
                f"best.toml at batch {trial} too (--set train.batch_size={trial}) before trusting it at {full}")

    def updates_caveat(self, tuned: Recipe, least: float = 0.5) -> str | None:
        """What to check before trusting a winner found in under `least` of the optimizer updates
        a fold of `tuned` makes (epochs x rows / batch; the trials train the recipe's folds)."""
        s, t = self.settings, tuned.train
        epochs, fraction, batch = s.epochs or t.epochs, s.fraction or tuned.data.fraction, s.batch_size or t.batch_size
        share = (epochs * fraction / batch) / (t.epochs * tuned.data.fraction / t.batch_size)
        if share >= least:
            return None
        return (f"a trial makes about {share:.0%} of best.toml's optimizer updates a fold ({epochs} epochs of "
                f"{fraction:g} of the rows at batch {batch}, against {t.epochs} of {tuned.data.fraction:g} at batch "
                f"{t.batch_size}): values that win few updates (a higher rate, a shorter warm-up) can lose many (on "
                f"CIFAR-10 the winner of a 470-update study lost 1.35 points in 1,914 updates; bench/README.md). "
                f"Refit best.toml beside the recipe before trusting it, or raise tune.fraction or tune.epochs")

    def check(self, plugins: Plugins) -> Recipe:
        """Validate the trial settings and every bound and choice of the space (each alone, the
        others at the recipe's values), in a trial's recipe and in the full one; return the trial
        recipe with the recipe's own values. `plugins` must offer the pruning callback."""
        try:
            base = self.trial_recipe({}, 0, plugins)
        except HarnessError as exc:
            raise HarnessError(f"the [tune] trial settings make the recipe invalid: {exc}") from exc
        for param in self.space:
            for value in param.bounds():
                try:
                    self.trial_recipe({param.key: value}, 0, plugins)
                    recipe = self.tuned_recipe({param.key: value}, plugins)
                    if param.key.startswith("model."):  # a model the source cannot build (a timm typo)
                        check_model(recipe, plugins)
                except HarnessError as exc:
                    raise HarnessError(f"tune.{param.key}: the value {value!r} makes the recipe invalid: {exc}") from exc
        return base

    def baseline(self, plugins: Plugins) -> dict[str, Any]:
        """The recipe's own value of each searched key, where the space holds it (a first trial
        that shows what tuning gains, under the same trial settings)."""
        resolved = recipe_to_dict(self.tuned_recipe({}, plugins))
        values: dict[str, Any] = {}
        for param in self.space:
            node = _lookup(resolved, param.key)
            if node is _MISSING:  # not in the resolved recipe, as `enabled = false` of a component
                node = _lookup(self.data, param.key)
            if node is _MISSING or not param.contains(node):
                continue
            values[param.key] = next(c for c in param.choices if c == node) if isinstance(param, Choice) else node
        return values

    def stride(self, base: Recipe) -> int:
        """The most epochs a trial trains per fold: fold i's epoch e is Optuna step i * stride + e,
        so that a step means the same in every trial."""
        epochs = [p for p in self.space if p.key == "train.epochs"]
        if epochs and isinstance(epochs[0], IntRange):
            return epochs[0].high
        if epochs:
            return max(int(v) for v in epochs[0].bounds())
        return base.train.epochs


def trial_folds(recipe: Recipe) -> tuple[int, ...]:
    """The folds a run trains, in order."""
    return recipe.cv.only or tuple(range(recipe.cv.folds))


__all__ = ["TuneRecipe", "PRUNER_CALLBACK", "nested", "with_values", "trial_folds"]
