"""Creates the plugin manager and wraps each hook in a typed method, so the rest of the code never
touches pluggy directly. Built-ins are registered explicitly, then entry points are loaded.

`HARNESS_PLUGINS` (comma-separated names) restricts which entry-point plugins load; set it to an
empty string to load built-ins only.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, cast

import pluggy

from harness import hookspecs
from harness.errors import HarnessError
from harness.specs import Component, MetricSpec, ModelSpec

BUILTIN_MODULES: tuple[str, ...] = (
    "harness_plugins.models.timm_models",
    "harness_plugins.models.efficientnet_lite_pypi",
    "harness_plugins.augment.standard",
    "harness_plugins.augment.batch_affine",
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
)

KINDS: tuple[str, ...] = (
    "models",
    "sample_transforms",
    "batch_transforms",
    "losses",
    "samplers",
    "schedulers",
    "tta_views",
    "ensemblers",
    "callbacks",
    "metrics",
)


def _singular(kind: str) -> str:
    """'losses' -> 'loss', 'tta_views' -> 'tta view'."""
    return (kind[:-2] if kind.endswith("sses") else kind[:-1]).replace("_", " ")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "built-in" or "DIST_NAME VERSION"
    hooks: tuple[tuple[str, tuple[str, ...]], ...]  # (hook, component names it offers)


@dataclass
class Plugins:
    """The loaded plugins and the components they offer, by kind and name."""

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _collect(self, kind: str) -> dict[str, Any]:
        if kind in self._cache:
            return self._cache[kind]
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for impl in getattr(self.pm.hook, f"harness_{kind}").get_hookimpls():
            for spec in impl.function() or []:
                if spec.name in found:
                    raise HarnessError(
                        f"{_singular(kind)} {spec.name!r} is offered by two plugins: "
                        f"{owner[spec.name]!r} and {impl.plugin_name!r}"
                    )
                found[spec.name] = spec
                owner[spec.name] = impl.plugin_name
        self._cache[kind] = found
        return found

    def models(self) -> dict[str, ModelSpec]:
        return self._collect("models")

    def metrics(self) -> dict[str, MetricSpec]:
        return self._collect("metrics")

    def components(self, kind: str) -> dict[str, Component]:
        if kind not in KINDS or kind in ("models", "metrics"):
            raise ValueError(f"unknown component kind {kind!r}")
        return self._collect(kind)

    def get(self, kind: str, name: str) -> Any:
        from harness.config.typed import suggest

        available = self._collect(kind)
        if name not in available:
            raise HarnessError(
                f"no {_singular(kind)} named {name!r}{suggest(name, available)}; "
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


def load_plugins(extra: tuple[object, ...] = ()) -> Plugins:
    """Build a fresh plugin manager: built-ins, then entry points, then `extra` (for tests)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    for modname in BUILTIN_MODULES:
        module: ModuleType = importlib.import_module(modname)
        pm.register(module, name=modname.removeprefix("harness_plugins."))
    allowed = _allowed()
    for ep in entry_points(group=hookspecs.PROJECT):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party package must say who it is
            raise HarnessError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        pm.register(obj, name=ep.name)
        dist = ep.dist
        plugins.sources[ep.name] = f"{dist.name} {dist.version}" if dist else ep.value
    for obj in extra:
        name = pm.register(obj)
        if name:
            plugins.sources[name] = "registered at run time"
    pm.check_pending()
    return plugins
