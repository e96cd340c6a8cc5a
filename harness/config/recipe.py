"""Load a TOML recipe: follow `base = "other.toml"`, apply `--set` overrides, validate everything
into a frozen `Recipe`, and write the fully resolved recipe back out."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.config.schema import (
    CVConfig,
    DataConfig,
    ModelConfig,
    Recipe,
    Selected,
    TrainConfig,
    TTAConfig,
)
from harness.config.typed import from_dict, to_dict
from harness.errors import HarnessError, suggest
from harness.kinds import recipe_sections
from harness.plugin_manager import Plugins

CORE = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "cv": CVConfig}
SELECTED = {section: (k.name, k.default) for section, k in recipe_sections("one").items()}  # section -> (kind, default)
ENABLED = {section: k.name for section, k in recipe_sections("many").items()}  # section -> kind
TOP_LEVEL = ["base", *CORE, *SELECTED, "tta", *ENABLED, "tune"]  # [tune]: read by `harness tune` alone


def run_recipe_section(run_dir: Path, section: str) -> dict[str, Any]:
    """One table of a finished run folder's resolved `recipe.toml` as written, without building
    the recipe (no plugins needed); {} when the folder has none (an ensemble's)."""
    path = run_dir / "recipe.toml"
    table: dict[str, Any] = read_toml(path).get(section, {}) if path.is_file() else {}
    return table


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise HarnessError(f"recipe not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"recipe {path} does not parse: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise HarnessError(f"recipe {path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise HarnessError(f"recipe {path} cannot be read: {exc}") from exc


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe's data with its `base` chain merged in (the child wins)."""
    path = path.resolve()
    if path in seen:
        raise HarnessError(f"recipe {path} extends itself through 'base'")
    data = read_toml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise HarnessError(f"{path}: 'base' must be a file name, got {base!r}")
    if not (path.parent / base).is_file():
        raise HarnessError(f"{path}: base = {base!r}: recipe not found: {path.parent / base}")
    return merge(load_raw(path.parent / base, (*seen, path)), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value`; the value is read as TOML, else taken as a plain string."""
    if "=" not in text:
        raise HarnessError(f"--set {text!r}: expected KEY=VALUE, such as train.lr=0.001")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise HarnessError(f"--set {text!r}: the key must name a section, such as train.lr")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    for text in overrides:
        parts, value = parse_override(text)
        patch: dict[str, Any] = {parts[-1]: value}
        for part in reversed(parts[:-1]):
            patch = {part: patch}
        data = merge(data, patch)
    return data


def _component(plugins: Plugins, kind: str, name: str, key: str) -> Any:
    """The plugin component `name`; an unknown name is an error that names the recipe key."""
    try:
        return plugins.get(kind, name)
    except HarnessError as exc:
        raise HarnessError(f"{key}: {exc}") from exc


def select_component(
    plugins: Plugins, kind: str, name: str, options: Mapping[str, Any], where: str, key: str
) -> Selected:
    component = _component(plugins, kind, name, key)
    return Selected(name, from_dict(component.options, options, where))


def _enabled(plugins: Plugins, section: str, kind: str, tables: Any) -> tuple[Selected, ...]:
    if not isinstance(tables, Mapping):
        raise HarnessError(f"'{section}' must be a table of [{section}.NAME] tables")
    chosen = []
    for name, opts in tables.items():
        where = f"{section}.{name}"
        if not isinstance(opts, Mapping):
            raise HarnessError(f"'{where}' must be a table, got {opts!r}")
        opts = dict(opts)
        enabled = opts.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise HarnessError(f"{where}.enabled: expected bool, got {enabled!r}")
        if enabled:
            chosen.append(select_component(plugins, kind, name, opts, where, where))
    return tuple(chosen)


def _check_run_pool(plugins: Plugins, sel: Selected) -> None:
    """A run pools its TTA views and folds by a fixed rule; an ensembler that fits weights on labels
    has none to fit there, and would silently act as the plain mean."""
    from harness.specs import FittingEnsembler

    if isinstance(plugins.ensembler(sel.name, sel.options), FittingEnsembler):
        raise HarnessError(
            f"ensemble.name = '{sel.name}' fits weights on the OOF, which a run does not do: it pools its views and folds "
            "by a fixed rule ('mean', 'geometric' or 'rank'). Keep one of those here and fit afterwards: "
            f"harness ensemble RUN_DIR --method {sel.name} --out DIR")


def build_recipe(data: Mapping[str, Any], plugins: Plugins) -> Recipe:
    for key in data:
        if key not in TOP_LEVEL:
            raise HarnessError(f"unknown key '{key}'{suggest(key, TOP_LEVEL)}; valid: {', '.join(TOP_LEVEL)}")
    for key in [*CORE, *SELECTED, "tta"]:
        if key in data and not isinstance(data[key], Mapping):
            raise HarnessError(f"'{key}' must be a table ([{key}]), got {data[key]!r}")
    core: dict[str, Any] = {k: from_dict(cls, data.get(k, {}), k) for k, cls in CORE.items()}
    _component(plugins, "models", core["model"].source, "model.source")
    _component(plugins, "metrics", core["cv"].metric, "cv.metric")
    selected: dict[str, Any] = {}
    for section, (kind, default) in SELECTED.items():
        opts = dict(data.get(section, {}))
        name = opts.pop("name", default)
        if not isinstance(name, str):
            raise HarnessError(f"{section}.name: expected str, got {name!r}")
        selected[section] = select_component(plugins, kind, name, opts, section, f"{section}.name")
    _check_run_pool(plugins, selected["ensemble"])
    tta_raw = dict(data.get("tta", {}))
    tta = from_dict(TTAConfig, {"views": tta_raw.pop("views", ["identity"])}, "tta")
    for key, value in tta_raw.items():
        if key not in tta.views:
            raise HarnessError(f"'tta.{key}' configures a view not listed in tta.views {list(tta.views)}")
        if not isinstance(value, Mapping):
            raise HarnessError(f"'tta.{key}' must be a table")
    tta_options = tuple(
        select_component(plugins, "tta_views", v, tta_raw.get(v, {}), f"tta.{v}", "tta.views") for v in tta.views
    )
    return Recipe(
        **core,
        **selected,
        tta=tta,
        tta_options=tta_options,
        batch_transforms=_enabled(
            plugins, "batch_transforms", "batch_transforms", data.get("batch_transforms", {})
        ),
        callbacks=_enabled(plugins, "callbacks", "callbacks", data.get("callbacks", {})),
    )


def load_recipe(path: str | Path, overrides: Sequence[str] = (), plugins: Plugins | None = None) -> Recipe:
    from harness.plugin_manager import load_plugins

    plugins = plugins or load_plugins()
    path = Path(path)
    data = apply_overrides(load_raw(path), overrides)
    recipe = build_recipe(data, plugins)
    # Relative paths are relative to where the command runs, as a user types them.
    if recipe.data.root and not Path(recipe.data.root).is_absolute():
        recipe = replace(recipe, data=replace(recipe.data, root=str(Path(recipe.data.root).resolve())))
    if recipe.cv.folds_file and not Path(recipe.cv.folds_file).is_absolute():
        recipe = replace(recipe, cv=replace(recipe.cv, folds_file=str(Path(recipe.cv.folds_file).resolve())))
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The fully resolved recipe as TOML-ready data; reading it back gives the same Recipe."""
    out: dict[str, Any] = {k: to_dict(getattr(recipe, k)) for k in CORE}
    for section in SELECTED:
        sel: Selected = getattr(recipe, section)
        out[section] = {"name": sel.name, **to_dict(sel.options)}
    out["tta"] = {"views": list(recipe.tta.views)}
    for sel in recipe.tta_options:
        opts = to_dict(sel.options)
        if opts:
            out["tta"][sel.name] = opts
    for section in ENABLED:
        out[section] = {s.name: to_dict(s.options) for s in getattr(recipe, section)}
    return out


def recipe_text(recipe: Recipe) -> str:
    """The resolved recipe as TOML text (what `recipe.toml` of a run holds)."""
    import tomli_w

    return tomli_w.dumps(recipe_to_dict(recipe))


def recipe_sha256(recipe: Recipe) -> str:
    import hashlib

    return hashlib.sha256(recipe_text(recipe).encode()).hexdigest()


def write_recipe(recipe: Recipe, path: Path) -> None:
    path.write_text(recipe_text(recipe), encoding="utf-8")
