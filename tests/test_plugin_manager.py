"""Plugins: built-ins and entry points load, duplicates name both owners, typos in hooks fail."""

from __future__ import annotations

import pytest
from pluggy import PluginValidationError

from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.plugin_manager import load_plugins
from harness.specs import Component, NoOptions


class _DuplicateLoss:
    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("cross_entropy", lambda o, c: None, NoOptions)]


class _Misspelled:
    @hookimpl
    def harness_lossez(self) -> list[Component]:
        return []


class _Extra:
    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("mock_loss", lambda o, c: "built", NoOptions)]


def test_builtins_offer_each_kind() -> None:
    plugins = load_plugins()
    assert "timm" in plugins.models()
    for kind, name in [("losses", "cross_entropy"), ("samplers", "instance"), ("tta_views", "identity"),
                       ("ensemblers", "mean"), ("sample_transforms", "standard"), ("schedulers", "constant")]:
        assert name in plugins.components(kind)


def test_duplicate_name_names_both_plugins() -> None:
    plugins = load_plugins(extra=(_DuplicateLoss(),))
    with pytest.raises(HarnessError, match=r"'cross_entropy' is offered by two plugins: 'loss.cross_entropy' and '"):
        plugins.components("losses")


def test_misspelled_hook_is_caught() -> None:
    with pytest.raises(PluginValidationError):
        load_plugins(extra=(_Misspelled(),))


def test_registered_mock_plugin_is_usable() -> None:
    plugins = load_plugins(extra=(_Extra(),))
    assert plugins.get("losses", "mock_loss").build(None, None) == "built"
    with pytest.raises(HarnessError, match="did you mean 'mock_loss'"):
        plugins.get("losses", "mock_los")


def test_entry_point_plugin_listed() -> None:
    info = {p.name: p for p in load_plugins().info()}
    assert info["focal_loss"].source.startswith("harness-focal-loss")
    assert ("harness_losses", ("focal",)) in info["focal_loss"].hooks


def test_allow_list_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_PLUGINS", "")
    assert "focal" not in load_plugins().components("losses")
