"""Plugins: built-ins and entry points load; a broken third-party plugin (a misspelled hook, no
hooks, a failing import) is skipped with a one-line warning naming it; a built-in keeps its name
against a third-party component; two third-party plugins offering one name are an error naming both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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


class _OtherExtra:
    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("mock_loss", lambda o, c: "other", NoOptions)]


class _NoHooks:
    def harness_losses(self) -> list[Component]:  # no @hookimpl: pluggy would ignore it silently
        return []


def test_a_builtin_keeps_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = load_plugins(extra=(_DuplicateLoss(),))
    assert plugins.owner("losses", "cross_entropy") == "loss.cross_entropy"
    assert plugins.get("losses", "cross_entropy").build is not None
    (warning,) = [w for w in plugins.warnings if "cross_entropy" in w]
    assert "plugin '_DuplicateLoss' (registered at run time) offers loss 'cross_entropy'" in warning
    assert "the built-in 'loss.cross_entropy' already offers; the built-in is kept" in warning


def test_two_third_party_plugins_with_one_name_name_both() -> None:
    plugins = load_plugins(extra=(_Extra(), _OtherExtra()))
    with pytest.raises(HarnessError, match=r"loss 'mock_loss' is offered by two plugins: '_Extra' and '_OtherExtra'"):
        plugins.components("losses")


def test_misspelled_hook_is_a_warning_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = load_plugins(extra=(_Misspelled(), _Extra()))
    assert "mock_loss" in plugins.components("losses")  # the others load as usual
    assert not plugins.pm.has_plugin("_Misspelled")
    message = ("plugin '_Misspelled' (registered at run time) skipped: unknown hook 'harness_lossez' "
               "(did you mean 'harness_losses'?)")
    assert [w for w in plugins.warnings if "_Misspelled" in w] == [message]
    assert f"harness: warning: {message}\n" in capsys.readouterr().err


def test_plugin_without_hooks_is_a_warning() -> None:
    plugins = load_plugins(extra=(_NoHooks(),))
    (warning,) = [w for w in plugins.warnings if "_NoHooks" in w]
    assert "plugin '_NoHooks' (registered at run time) implements no harness hook: harness_losses lack(s) @hookimpl" in warning


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


class _HalfRight:
    """A package's loss and metric under the right hooks, its callback under a misspelled one."""

    @hookimpl
    def harness_losses(self) -> list[Component]:
        return [Component("kept_loss", lambda o, c: "built", NoOptions)]

    @hookimpl
    def harness_callback(self) -> list[Component]:
        return [Component("lost_callback", lambda o, c: None, NoOptions)]


class _NeedsArgument:
    @hookimpl
    def harness_losses(self, registry: dict) -> list[Component]:
        return []

    @hookimpl
    def harness_metrics(self) -> list[Any]:
        return []


def test_a_misspelled_hook_leaves_out_that_hook_only(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = load_plugins(extra=(_HalfRight(),))
    assert plugins.get("losses", "kept_loss").build(None, None) == "built"  # the right hooks load
    message = ("plugin '_HalfRight' (registered at run time): unknown hook 'harness_callback' (did you mean "
               "'harness_callbacks'?) left out; its harness_losses load")
    assert [w for w in plugins.warnings if "_HalfRight" in w] == [message]
    assert f"harness: warning: {message}\n" in capsys.readouterr().err
    (problem,) = plugins.problems
    assert (problem.plugin, problem.skipped) == ("_HalfRight", False)


def test_asking_for_what_a_plugin_left_out_names_it_and_why() -> None:
    plugins = load_plugins(extra=(_HalfRight(),))
    with pytest.raises(HarnessError) as info:
        plugins.get("callbacks", "lost_callback")
    assert str(info.value).endswith(
        "a plugin that did not load in full may offer it: '_HalfRight' (registered at run time) left out its unknown "
        "hook 'harness_callback' (did you mean 'harness_callbacks'?)")
    with pytest.raises(HarnessError) as other:  # a loss: the left-out hook was meant for callbacks
        plugins.get("losses", "kept_los")
    assert "_HalfRight" not in str(other.value) and "did you mean 'kept_loss'" in str(other.value)


def test_an_implementation_with_arguments_the_hook_lacks_is_left_out() -> None:
    plugins = load_plugins(extra=(_NeedsArgument(),))
    (warning,) = [w for w in plugins.warnings if "_NeedsArgument" in w]
    assert warning == ("plugin '_NeedsArgument' (registered at run time): 'harness_losses', which needs argument(s) "
                       "registry that the hook does not pass left out; its harness_metrics load")


def test_the_contract_fails_on_its_own_plugins_problem() -> None:
    from harness.testing import LossContract

    case = type("Case", (LossContract,), {"name": "kept_loss", "plugins": (_HalfRight(),)})()
    with pytest.raises(AssertionError, match=r"left out its unknown hook 'harness_callback' \(did you mean"):
        case.test_plugin_loads_in_full()


def test_scoring_commands_load_only_the_kinds_they_use() -> None:
    """`harness submit`, `leaderboard`, `report` and `ensemble` need metrics and ensemblers only:
    those built-ins load (no torch import for them), entry points still load in full (a third-party
    metric still scores), and asking such a manager for a model is a bug, not a missing name."""
    import os
    import subprocess
    import sys

    light = load_plugins(only=("metrics", "ensemblers"))
    full = load_plugins()
    assert set(light.metrics()) == set(full.metrics())
    assert set(light.of_kind("ensemblers")) == set(full.of_kind("ensemblers"))
    with pytest.raises(RuntimeError, match="loaded for ensemblers, metrics only; models asked for"):
        light.models()
    assert load_plugins(only=("metrics", "models")).only is None  # a kind without a light set: every built-in
    code = ("import sys; from harness.plugin_manager import load_plugins; load_plugins(only=('metrics', 'ensemblers'));"
            "print('torch' in sys.modules)")
    env = {**os.environ, "HARNESS_PLUGINS": ""}  # the built-ins alone: what an installed package imports is its own
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"
    # The example packages, the pattern a third party copies, import torch only where they compute,
    # so that they cost a scoring verb nothing (they were 1.4 s of `harness ensemble`'s 10.3 s).
    examples = Path(__file__).resolve().parents[1] / "examples"
    paths = [str(examples / "harness-kaggle-kit"), str(examples / "harness-focal-loss")]
    kit = ("harness_kaggle_kit.poly1", "harness_kaggle_kit.gridmask", "harness_kaggle_kit.map3",
           "harness_kaggle_kit.lr_log", "harness_focal_loss")
    code = (f"import sys, importlib; sys.path[:0] = {paths}; mods = [importlib.import_module(m) for m in {kit}];"
            "from harness.plugin_manager import load_plugins; p = load_plugins(only=('metrics', 'ensemblers'), "
            "extra=tuple(mods)); print('torch' in sys.modules, 'map3' in p.metrics())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False True"
