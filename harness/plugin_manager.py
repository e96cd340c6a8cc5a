"""Creates the plugin manager and wraps each hook in a typed method, so the rest of the code never
touches pluggy directly. Built-ins are registered explicitly, then entry points are loaded.

`HARNESS_PLUGINS` (comma-separated names) restricts which entry-point plugins load; set it to an
empty string to load built-ins only.

A third-party plugin never stops a command. A hook implementation under a name that is no hook
(with a "did you mean") or needing arguments its hook does not pass is left out with a one-line
warning, `harness: warning: plugin 'x' (dist 1.0): unknown hook ... left out; its harness_losses
load`, and the plugin's other hooks load as usual. A plugin that fails to import is skipped with a
warning that names the file and line that raised (`-v` adds the traceback); one with no
`@hookimpl` at all is a warning too. Whatever did not load is remembered (`Plugins.problems`): an
error about a component that no plugin offers names those plugins, since one of them may be the
cause, and every contract test fails on its own plugin's problems. A third-party component named
like a built-in is left out with a warning (the built-in keeps the name). Two third-party plugins
that offer the same name are an error naming both, when that kind of component is used.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, cast

import pluggy

from harness import hookspecs, kinds
from harness.errors import HarnessError
from harness.plugin_checks import HarnessPluginManager, Problem, one_line, raised_at, traceback_text, unmarked
from harness.specs import (
    BatchTransform,
    BuildContext,
    Callback,
    Component,
    Ensembler,
    Loss,
    MetricSpec,
    ModelSpec,
    Sampler,
    SampleTransform,
    Schedule,
    Selection,
    TTAView,
)

BUILTIN_MODULES: tuple[str, ...] = (
    "harness_plugins.models.timm_models",
    "harness_plugins.models.efficientnet_lite_pypi",
    "harness_plugins.models.cifar_nets",
    "harness_plugins.augment.standard",
    "harness_plugins.augment.progressive",
    "harness_plugins.augment.batch_affine",
    "harness_plugins.augment.crop_flip",
    "harness_plugins.augment.mixup_cutmix",
    "harness_plugins.loss.cross_entropy",
    "harness_plugins.loss.binary_cross_entropy",
    "harness_plugins.loss.distill",
    "harness_plugins.sampler.instance",
    "harness_plugins.sampler.class_balanced",
    "harness_plugins.schedule.constant",
    "harness_plugins.schedule.warmup_cosine",
    "harness_plugins.schedule.classic",
    "harness_plugins.tta.views",
    "harness_plugins.tta.multi_scale",
    "harness_plugins.tta.crops",
    "harness_plugins.ensemble.mean",
    "harness_plugins.ensemble.geometric",
    "harness_plugins.ensemble.rank",
    "harness_plugins.ensemble.hill_climb",
    "harness_plugins.ensemble.slsqp",
    "harness_plugins.metrics.classification",
    "harness_plugins.callbacks.ema",
    "harness_plugins.callbacks.lookahead",
    "harness_plugins.callbacks.early_stopping",
    "harness_plugins.callbacks.freeze_backbone",
    "harness_plugins.distill.teacher",
)
# The built-in subpackages that offer a kind, for commands that need only that kind: scoring and
# ensembling need no torch, and skip the ~3 s the other built-ins take to import.
BUILTIN_PACKAGES: dict[str, str] = {"metrics": "harness_plugins.metrics.", "ensemblers": "harness_plugins.ensemble."}

KINDS: tuple[str, ...] = kinds.NAMES  # the table of kinds is harness.kinds


def singular(kind: str) -> str:
    """'losses' -> 'loss', 'tta_views' -> 'tta view'."""
    return kinds.BY_NAME[kind].singular


def kind_of(text: str) -> str:
    """The kind (its plural name) that `text` names: see harness.kinds.kind_of."""
    return kinds.kind_of(text).name


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "built-in" or "DIST_NAME VERSION"
    hooks: tuple[tuple[str, tuple[str, ...]], ...]  # (hook, component names it offers)


@dataclass
class Plugins:
    """The loaded plugins and the components they offer, by kind and name.

    Name clashes: a built-in keeps its name, and a third-party component with the same name is left
    out with a warning (so a recipe means the same whatever else is installed); two third-party
    plugins offering one name is an error that names both, raised when that kind is used.
    """

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)  # plugin name -> "DIST VERSION" (third parties)
    warnings: list[str] = field(default_factory=list)  # what loading found wrong, one line each
    problems: list[Problem] = field(default_factory=list)  # the third-party plugins that did not load in full
    only: frozenset[str] | None = None  # the kinds whose built-ins were loaded (None: every kind)
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    _owners: dict[str, dict[str, str]] = field(default_factory=dict)

    def builtin(self, plugin_name: str) -> bool:
        return plugin_name not in self.sources

    def describe(self, plugin_name: str) -> str:
        """'focal_loss' (harness-focal-loss 0.1.0), as warnings and errors name a plugin."""
        source = self.sources.get(plugin_name, "built-in")
        return f"{plugin_name!r} ({source})"

    def _warn(self, message: str, more: str = "") -> None:
        from harness.console import warn

        self.warnings.append(message)
        warn(message, more=more)

    def _problem(self, plugin: str, reason: str, skipped: bool, meant: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(plugin, self.describe(plugin), reason, skipped, meant))

    def not_loaded(self, kind: str | None = None) -> str:
        """What an error about a component nobody offers adds: the plugins that did not load in full
        and may offer one of `kind` (any kind: None), since one of them may be the cause ("" when
        there are none)."""
        found = [p.text for p in self.problems if kind is None or p.may_offer(kind)]
        return "; a plugin that did not load in full may offer it: " + "; ".join(found) if found else ""

    def _collect(self, kind: str) -> dict[str, Any]:
        if kind in self._cache:
            return self._cache[kind]
        if self.only is not None and kind not in self.only:  # a caller's bug: it asked for fewer kinds
            raise RuntimeError(f"plugins were loaded for {', '.join(sorted(self.only))} only; {kind} asked for")
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for impl in getattr(self.pm.hook, f"harness_{kind}").get_hookimpls():
            for spec in impl.function() or []:
                name, plugin = spec.name, impl.plugin_name
                if name not in found:
                    found[name], owner[name] = spec, plugin
                    continue
                first = owner[name]
                if self.builtin(first) != self.builtin(plugin):
                    keep, drop = (first, plugin) if self.builtin(first) else (plugin, first)
                    self._warn(f"plugin {self.describe(drop)} offers {singular(kind)} {name!r}, which the "
                               f"built-in {keep!r} already offers; the built-in is kept (rename it in the plugin)")
                    if keep == plugin:
                        found[name], owner[name] = spec, plugin
                    continue
                raise HarnessError(
                    f"{singular(kind)} {name!r} is offered by two plugins: {first!r} and {plugin!r}"
                    + ("" if self.builtin(first) else " (uninstall one, or HARNESS_PLUGINS=NAME,... to choose)")
                )
        self._cache[kind], self._owners[kind] = found, owner
        return found

    def owner(self, kind: str, name: str) -> str:
        """The plugin whose component `name` of `kind` is used."""
        self._collect(kind)
        return self._owners[kind][name]

    def models(self) -> dict[str, ModelSpec]:
        return self._collect("models")

    def metrics(self) -> dict[str, MetricSpec]:
        return self._collect("metrics")

    def metric(self, name: str) -> MetricSpec:
        """The metric a recipe's `cv.metric` names (a clear error for an unknown one)."""
        spec: MetricSpec = self.get("metrics", name)
        return spec

    def ensembler(self, name: str, options: Any = None) -> Ensembler:
        """The ensembler `name`, built from its options (None: its defaults) outside any fold: how a
        run, `harness predict`, `harness export` and `harness ensemble` pool views and folds."""
        component: Component = self.get("ensemblers", name)
        built: Ensembler = component.build(component.options() if options is None else options, None)
        return built

    def model(self, source: str) -> ModelSpec:
        """The model source a recipe's `model.source` names."""
        spec: ModelSpec = self.get("models", source)
        return spec

    # One typed accessor per kind that a fold builds: `sel` is the recipe's choice (a name and its
    # validated options), `ctx` the fold's BuildContext.
    def _build(self, kind: str, sel: Selection, *args: Any) -> Any:
        return self.get(kind, sel.name).build(sel.options, *args)

    def sample_transform(self, sel: Selection, ctx: BuildContext, train: bool) -> SampleTransform:
        built: SampleTransform = self._build("sample_transforms", sel, ctx, train)
        return built

    def batch_transform(self, sel: Selection, ctx: BuildContext) -> BatchTransform:
        built: BatchTransform = self._build("batch_transforms", sel, ctx)
        return built

    def loss(self, sel: Selection, ctx: BuildContext) -> Loss:
        built: Loss = self._build("losses", sel, ctx)
        return built

    def sampler(self, sel: Selection, ctx: BuildContext) -> Sampler:
        built: Sampler = self._build("samplers", sel, ctx)
        return built

    def scheduler(self, sel: Selection, ctx: BuildContext) -> Schedule:
        built: Schedule = self._build("schedulers", sel, ctx)
        return built

    def tta_views(self, sel: Selection, ctx: BuildContext | None) -> list[TTAView]:
        built: list[TTAView] = self._build("tta_views", sel, ctx)
        return built

    def callback(self, sel: Selection, ctx: BuildContext) -> Callback:
        built: Callback = self._build("callbacks", sel, ctx)
        return built

    def components(self, kind: str) -> dict[str, Component]:
        if kind not in KINDS or kinds.BY_NAME[kind].build_args in ("model", "spec"):  # specs, not Components
            raise ValueError(f"unknown component kind {kind!r}")
        return self._collect(kind)

    def of_kind(self, kind: str) -> dict[str, Any]:
        """Every component of `kind` in use, by name: `Component`s, or `ModelSpec`s / `MetricSpec`s."""
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}")
        return self._collect(kind)

    def get(self, kind: str, name: str) -> Any:
        from harness.errors import suggest

        available = self._collect(kind)
        if name not in available:
            hint = self.not_loaded(kind)  # names the likely cause instead of guessing a spelling
            raise HarnessError(f"no {singular(kind)} named {name!r}{'' if hint else suggest(name, available)}; "
                               f"available: {', '.join(sorted(available))}{hint}")
        return available[name]

    def info(self) -> list[PluginInfo]:
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = []
            for caller in sorted(self.pm.get_hookcallers(plugin) or [], key=lambda c: c.name):
                impls = [i for i in caller.get_hookimpls() if i.plugin_name == name]
                specs: list[Any] = [s for i in impls for s in cast(list[Any], i.function() or [])]
                hooks.append((caller.name, tuple(s.name for s in specs)))
            out.append(PluginInfo(name, self.sources.get(name, "built-in"), tuple(hooks)))
        return out


def _allowed() -> set[str] | None:
    raw = os.environ.get("HARNESS_PLUGINS")
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def _register(plugins: Plugins, obj: object, name: str) -> None:
    """Register one third-party plugin: a hook implementation that is wrong is left out with a
    one-line warning and the plugin's other hooks load; a plugin left with no hook is unregistered."""
    pm = plugins.pm
    assert isinstance(pm, HarnessPluginManager)
    try:
        pm.register(obj, name=name)
    except pluggy.PluginValidationError as exc:  # what pluggy still refuses (a hookwrapper on a historic hook)
        pm.left_out(obj)
        plugins._warn(f"plugin {plugins.describe(name)} skipped: {one_line(exc)}")
        plugins._problem(name, f"was skipped: {one_line(exc)}", skipped=True)
        return
    left = pm.left_out(obj)
    reasons, meant = [r for r, _ in left], tuple(h for _, h in left if h)
    loaded = sorted(c.name for c in pm.get_hookcallers(obj) or [])
    if reasons and loaded:
        plugins._warn(f"plugin {plugins.describe(name)}: {'; '.join(reasons)} left out; its {', '.join(loaded)} load")
        plugins._problem(name, f"left out its {'; '.join(reasons)}", skipped=False, meant=meant)
    elif reasons:
        pm.unregister(name=name)
        plugins._warn(f"plugin {plugins.describe(name)} skipped: {'; '.join(reasons)}")
        plugins._problem(name, f"was skipped: {'; '.join(reasons)}", skipped=True)
    elif not loaded:
        names = unmarked(obj)
        why = (f"{', '.join(names)} lack(s) @hookimpl (from harness.hookspecs import hookimpl)" if names
               else "no function marked @hookimpl")
        plugins._warn(f"plugin {plugins.describe(name)} implements no harness hook: {why}")
        plugins._problem(name, f"implements no harness hook: {why}", skipped=True)


def _run_time_name(pm: pluggy.PluginManager, obj: object) -> str:
    base = getattr(obj, "__name__", None) or type(obj).__name__
    name, n = base, 1
    while pm.has_plugin(name):
        n += 1
        name = f"{base}-{n}"
    return name


def load_plugins(extra: tuple[object, ...] = (), only: tuple[str, ...] | None = None) -> Plugins:
    """Build a fresh plugin manager: built-ins, then entry points, then `extra` (plugin objects or
    modules registered at run time: tests, or a package not installed yet). `only` (kinds among
    BUILTIN_PACKAGES') imports just the built-ins of those kinds; every entry point still loads,
    and asking the result for another kind is an error. A third-party plugin that
    fails to import is skipped, and a wrong hook implementation is left out while the plugin's other
    hooks load: each with a warning in `Plugins.warnings` and a `Problem` in `Plugins.problems`."""
    from harness.console import verbose

    pm = HarnessPluginManager()
    chosen = frozenset(only) if only is not None and set(only) <= set(BUILTIN_PACKAGES) else None
    plugins = Plugins(pm, only=chosen)
    prefixes = tuple(BUILTIN_PACKAGES[k] for k in chosen) if chosen is not None else ("",)
    for modname in (m for m in BUILTIN_MODULES if m.startswith(prefixes)):
        module: ModuleType = importlib.import_module(modname)
        pm.register(module, name=modname.removeprefix("harness_plugins."))
        left = pm.left_out(module)
        if left:  # a built-in with a misspelled hook is our bug: fail loudly
            raise RuntimeError(f"built-in plugin {modname}: {'; '.join(r for r, _ in left)}")
    pm.check_pending()
    allowed = _allowed()
    for ep in entry_points(group=hookspecs.PROJECT):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.has_plugin(ep.name):
            continue
        dist = ep.dist
        plugins.sources[ep.name] = f"{dist.name} {dist.version}" if dist else ep.value
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party package must say who it is, and not stop the others
            reason = f"failed to import {ep.value!r}: {one_line(exc)}{raised_at(exc)}"
            hint = "" if verbose() else " (-v shows the traceback)"
            plugins._warn(f"plugin {plugins.describe(ep.name)} {reason}; skipped{hint}", more=traceback_text(exc))
            plugins._problem(ep.name, reason, skipped=True)
            del plugins.sources[ep.name]
            continue
        if pm.is_registered(obj):
            continue
        _register(plugins, obj, ep.name)
        if not pm.has_plugin(ep.name):
            del plugins.sources[ep.name]
    for obj in extra:
        if pm.is_registered(obj):  # an installed package that a test also registers by hand
            continue
        name = _run_time_name(pm, obj)
        plugins.sources[name] = "registered at run time"
        _register(plugins, obj, name)
        if not pm.has_plugin(name):
            del plugins.sources[name]
    return plugins
