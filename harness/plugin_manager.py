"""Creates the plugin manager and wraps each hook in a typed method, so the rest of the code never
touches pluggy directly. Built-ins are registered explicitly, then entry points are loaded.

`HARNESS_PLUGINS` (comma-separated names) restricts which entry-point plugins load; set it to an
empty string to load built-ins only.

A third-party plugin never stops a command: one that fails to import, implements a hook that does
not exist (pluggy's `check_pending`, with a "did you mean") or with arguments the hook lacks is
unregistered with a one-line warning, `harness: warning: plugin 'x' (dist 1.0) ...`, and the others
load as usual; one with no `@hookimpl` at all is a warning too. A third-party component named like
a built-in is left out with a warning (the built-in keeps the name). Two third-party plugins that
offer the same name are an error naming both, when that kind of component is used.
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
    "harness_plugins.callbacks.early_stopping",
    "harness_plugins.callbacks.freeze_backbone",
    "harness_plugins.distill.teacher",
)

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
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    _owners: dict[str, dict[str, str]] = field(default_factory=dict)

    def builtin(self, plugin_name: str) -> bool:
        return plugin_name not in self.sources

    def describe(self, plugin_name: str) -> str:
        """'focal_loss' (harness-focal-loss 0.1.0), as warnings and errors name a plugin."""
        source = self.sources.get(plugin_name, "built-in")
        return f"{plugin_name!r} ({source})"

    def _warn(self, message: str) -> None:
        from harness.console import warn

        self.warnings.append(message)
        warn(message)

    def _collect(self, kind: str) -> dict[str, Any]:
        if kind in self._cache:
            return self._cache[kind]
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
            raise HarnessError(
                f"no {singular(kind)} named {name!r}{suggest(name, available)}; "
                f"available: {', '.join(sorted(available))}"
            )
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _hook_names() -> list[str]:
    return [n for n in vars(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_")]


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(c.name for c in pm.get_hookcallers(plugin) or [] if not c.has_spec())


def _unmarked(obj: object) -> list[str]:
    """Hook names that `obj` defines without `@hookimpl` (pluggy ignores those silently)."""
    return [n for n in _hook_names() if callable(getattr(obj, n, None))]


def _register(plugins: Plugins, obj: object, name: str) -> None:
    """Register one plugin; a broken one is unregistered with a one-line warning that names it, and
    the others load as usual."""
    from harness.errors import suggest

    pm = plugins.pm
    try:
        pm.register(obj, name=name)
    except pluggy.PluginValidationError as exc:  # an implementation whose arguments the hook lacks
        plugins._warn(f"plugin {plugins.describe(name)} skipped: {_one_line(exc)}")
        return
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        unknown = _unknown_hooks(pm, obj)
        pm.unregister(name=name)
        hints = "; ".join(f"unknown hook {h!r}{suggest(h, _hook_names())}" for h in unknown)
        plugins._warn(f"plugin {plugins.describe(name)} skipped: {hints}")
        return
    if not pm.get_hookcallers(obj):
        unmarked = _unmarked(obj)
        why = (f"{', '.join(unmarked)} lack(s) @hookimpl (from harness.hookspecs import hookimpl)" if unmarked
               else "no function marked @hookimpl")
        plugins._warn(f"plugin {plugins.describe(name)} implements no harness hook: {why}")


def _run_time_name(pm: pluggy.PluginManager, obj: object) -> str:
    base = getattr(obj, "__name__", None) or type(obj).__name__
    name, n = base, 1
    while pm.has_plugin(name):
        n += 1
        name = f"{base}-{n}"
    return name


def load_plugins(extra: tuple[object, ...] = ()) -> Plugins:
    """Build a fresh plugin manager: built-ins, then entry points, then `extra` (plugin objects or
    modules registered at run time: tests, or a package not installed yet). A third-party plugin that
    fails to import or to validate is skipped with a warning in `Plugins.warnings`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    for modname in BUILTIN_MODULES:
        module: ModuleType = importlib.import_module(modname)
        pm.register(module, name=modname.removeprefix("harness_plugins."))
    pm.check_pending()  # a built-in with a misspelled hook is our bug: fail loudly
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
            plugins._warn(f"plugin {plugins.describe(ep.name)} failed to import {ep.value!r}: {_one_line(exc)}; skipped")
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
