"""The architecture, checked: the packages of `harness` stack in layers, and no module imports
from a layer above its own (function bodies and `if TYPE_CHECKING:` blocks included). A module
may import its own layer; `../shared/tools/import_cycles.py` keeps those free of cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "harness"

# Bottom to top. Contracts (what plugins implement and see), the plugin registry and the numeric
# helpers every layer scores with, the recipe, the data, what a run writes and reports, what
# training and prediction both run on (device, precision, accelerator, loaders), inference (a
# finished fold's TTA predictions and their pooling), the trainer (which predicts through
# inference), what consumes trained runs, and the entry points.
LAYERS: list[set[str]] = [
    {"errors", "specs", "hookspecs", "kinds", "console", "weights"},
    {"plugin_manager", "plugin_checks", "metrics"},
    {"config"},
    {"data", "hierarchy", "multitask"},
    {"outputs", "report"},
    {"runtime"},
    {"predict"},
    {"train"},
    {"ensemble", "tune", "export", "leaderboard", "gate"},
    {"cli", "testing", "docs", "__main__", "__init__"},
]
LAYER = {unit: n for n, units in enumerate(LAYERS) for unit in units}


def _unit(path: Path) -> str:
    """The first name under harness/: a package (train) or a top-level module (specs)."""
    rel = path.relative_to(ROOT).parts
    return rel[0] if len(rel) > 1 else Path(rel[0]).stem


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported harness unit, line) for every import statement of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] if node.module != "harness" else [f"harness.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        found += [(m.split(".")[1], node.lineno) for m in modules if m.startswith("harness.")]
    return found


def test_every_package_has_a_layer() -> None:
    units = {_unit(p) for p in ROOT.rglob("*.py")}
    assert units <= set(LAYER), f"give these a layer in LAYERS: {sorted(units - set(LAYER))}"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [f"{p.relative_to(ROOT.parent)}:{line} imports harness.{target} (layer {LAYER[target]} > {LAYER[_unit(p)]})"
              for p in sorted(ROOT.rglob("*.py")) for target, line in _imports(p)
              if target in LAYER and LAYER[target] > LAYER[_unit(p)]]
    assert not upward, "\n".join(upward)
