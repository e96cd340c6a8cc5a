"""`harness plugins`: components with their documentation and options as recipe keys, and broken
third-party packages as one-line warnings that name the package, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

TYPO_PLUGIN = '''
from harness.hookspecs import hookimpl


@hookimpl
def harness_lossez():
    return []
'''


def install_fake(site: Path, dist: str, module: str, source: str | None) -> None:
    """A distribution with a `harness` entry point, visible to importlib.metadata on PYTHONPATH."""
    if source is not None:
        (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{module} = {module}\n")


def harness(*args: str, site: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, timeout=120)


def test_broken_packages_are_one_line_warnings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_fake(site, "typo-plugin", "typo_plugin", TYPO_PLUGIN)
    install_fake(site, "gone-plugin", "gone_plugin", None)  # its module does not exist
    res = harness("plugins", site=site)
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if line.startswith("harness: warning:")]
    assert ("harness: warning: plugin 'typo_plugin' (typo-plugin 1.0) skipped: unknown hook 'harness_lossez' "
            "(did you mean 'harness_losses'?)") in warnings
    assert any(w.startswith("harness: warning: plugin 'gone_plugin' (gone-plugin 1.0) failed to import 'gone_plugin': "
                            "ModuleNotFoundError") for w in warnings)
    assert "Traceback" not in res.stderr
    assert "loss.cross_entropy  [built-in]" in res.stdout and "typo_plugin" not in res.stdout


def test_component_shows_docs_and_recipe_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "cross_entropy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cross_entropy  (loss, from loss.cross_entropy [built-in])")
    assert 'select: loss.name = "cross_entropy"' in out
    assert "loss.smoothing  float = 0.0  # label smoothing" in out
    assert "Szegedy" in out  # the module docstring, which names the paper


@pytest.mark.parametrize(("query", "key"), [
    ("batch_transform:mixup_cutmix", "batch_transforms.mixup_cutmix.cutmix_alpha  float = 1.0"),
    ("tta_views:multi_scale", "tta.multi_scale.scales  list of float = [0.9, 1.1]"),
    ("warmup_cosine", "scheduler.warmup_epochs"),
    ("ema", "callbacks.ema.decay"),
])
def test_kind_and_name(query: str, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", query]) == 0
    assert " ".join(key.split()) in " ".join(capsys.readouterr().out.split())


def test_metric_and_kind_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "log_loss"]) == 0
    assert "lower is better; needs probabilities" in capsys.readouterr().out
    assert main(["plugins", "losses:"]) == 0
    out = capsys.readouterr().out
    assert "cross_entropy  (loss" in out and "binary_cross_entropy  (loss" in out


def test_verbose_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "-v"]) == 0
    out = capsys.readouterr().out
    assert "loss.smoothing" in out and "batch_transforms.mixup_cutmix.cutmix_alpha" in out
    assert main(["-v", "plugins"]) == 0  # the global flag, before the verb, is the same
    assert "loss.smoothing" in capsys.readouterr().out


def test_unknown_names_suggest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "crossentropy"]) == 2
    assert "did you mean 'cross_entropy'?" in capsys.readouterr().err
    assert main(["plugins", "los:focal"]) == 2
    assert "unknown component kind 'los' (did you mean 'losses'?)" in capsys.readouterr().err
    assert main(["plugins", "loss:focl"]) == 2
    assert "no losses component named 'focl'" in capsys.readouterr().err


def test_plugin_name_lists_its_components(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "tta.crops"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tta.crops  [built-in]") and "five_crop" in out and "tta.ten_crop.crop" in out


KIT = '''"""A loss under the right hook and a callback under a misspelled one."""
from harness.hookspecs import hookimpl
from harness.specs import Callback, Component, NoOptions


@hookimpl
def harness_losses():
    return [Component("kit_poly", lambda o, c: None, NoOptions, doc="kept")]


@hookimpl
def harness_callback():
    return [Component("kit_lr_log", lambda o, c: Callback(), NoOptions)]
'''


def test_a_misspelled_hook_keeps_the_packages_other_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    install_fake(tmp_path, "half-kit", "half_kit", KIT)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["plugins", "kit_poly"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("kit_poly  (loss, from half_kit [half-kit 1.0])")
    assert ("harness: warning: plugin 'half_kit' (half-kit 1.0): unknown hook 'harness_callback' (did you mean "
            "'harness_callbacks'?) left out; its harness_losses load") in captured.err
    assert main(["plugins", "callbacks:kit_lr_log"]) == 2
    assert ("may offer it: 'half_kit' (half-kit 1.0) left out its unknown hook 'harness_callback' (did you mean "
            "'harness_callbacks'?)") in capsys.readouterr().err
    recipe = tmp_path / "r.toml"
    recipe.write_text("[loss]\nname = 'kit_poly'\n\n[callbacks.kit_lr_log]\n")
    assert main(["run", str(recipe), "--out", str(tmp_path / "run")]) == 2  # refused before any training
    err = capsys.readouterr().err
    assert err.startswith("harness: error: callbacks.kit_lr_log: no callback named 'kit_lr_log'; available: ")
    assert err.endswith("; a plugin that did not load in full may offer it: 'half_kit' (half-kit 1.0) left out its "
                        "unknown hook 'harness_callback' (did you mean 'harness_callbacks'?)\n")


BROKEN_INIT = "from broken_kit.gridmask import harness_batch_transforms  # noqa: F401\n"
BROKEN_SUBMODULE = '''from harness.hookspecs import hookimpl
from harness.specs import Component, NoOptions
from torchvision.transforms.v3 import GridMask  # no such module


@hookimpl
def harness_batch_transforms():
    return [Component("broken_grid", lambda o, c: GridMask(), NoOptions)]
'''


def test_an_import_error_in_a_submodule_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_kit").mkdir()
    (tmp_path / "broken_kit" / "__init__.py").write_text(BROKEN_INIT)
    (tmp_path / "broken_kit" / "gridmask.py").write_text(BROKEN_SUBMODULE)
    install_fake(tmp_path, "broken-kit", "broken_kit", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["plugins"]) == 0
    plain = capsys.readouterr().err
    assert f"(at {tmp_path}/broken_kit/gridmask.py:3); skipped (-v shows the traceback)" in plain
    assert "Traceback" not in plain
    assert main(["-v", "plugins"]) == 0
    verbose = capsys.readouterr().err
    assert "Traceback (most recent call last)" in verbose and f'File "{tmp_path}/broken_kit/gridmask.py", line 3' in verbose
    assert main(["plugins", "broken_grid"]) == 2
    missing = capsys.readouterr().err
    assert "did you mean" not in missing
    assert ("harness: error: no component or plugin named 'broken_grid'; a plugin that did not load in full may offer it: "
            "'broken_kit' (broken-kit 1.0) failed to import 'broken_kit': ModuleNotFoundError: No module named "
            "'torchvision.transforms.v3'") in missing
