"""Keep the hook documentation honest: every hook is typed, has an example, and is in the README."""

from __future__ import annotations

import inspect
from pathlib import Path

from harness import hookspecs

HOOKS = [name for name, fn in vars(hookspecs).items() if name.startswith("harness_") and callable(fn)]
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_there_are_a_handful_of_hooks() -> None:
    assert 8 <= len(HOOKS) <= 12


def test_every_hook_documented_with_example() -> None:
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example" in doc, name
        assert f"`{name}`" in README, f"{name} missing from the README's hook table"
