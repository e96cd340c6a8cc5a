"""Shell comfort: every verb's --help has examples and needs no torch; -q and -v before or after the
verb; exit codes 0 / 1 / 2 with one-line messages; progress honours the verbosity and prints no
colour codes off a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import console
from harness.cli import VERBS, main
from harness.errors import HarnessError

from .conftest import TINY

HELP_PROBE = r"""
import contextlib, io, json, sys
from harness.cli import VERBS, main
report = {}
for verb in VERBS:
    out = io.StringIO()
    code = None
    with contextlib.redirect_stdout(out):
        try:
            main([verb, "--help"])
        except SystemExit as exc:
            code = exc.code
    report[verb] = {"code": code, "examples": "examples:" in out.getvalue()}
report["_torch"] = "torch" in sys.modules
print(json.dumps(report))
"""


def test_every_verb_help_has_examples_without_torch() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    res = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.splitlines()[-1])
    assert not report.pop("_torch"), "`harness VERB --help` imported torch"
    assert set(report) == set(VERBS)
    for verb, r in report.items():
        assert r == {"code": 0, "examples": True}, f"harness {verb} --help: {r}"


def test_every_cli_module_has_help_and_examples() -> None:
    import importlib

    for module in VERBS.values():
        m = importlib.import_module(f"harness.cli.{module}")
        assert getattr(m, "HELP", "") and "examples:" in getattr(m, "EXAMPLES", ""), f"harness.cli.{module}"


@pytest.mark.parametrize("argv", [["-q", "plugins"], ["plugins", "-q"], ["plugins", "--quiet"]])
def test_quiet_before_or_after_the_verb(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "loss.cross_entropy" in captured.out  # the result
    assert "shows a component's documentation" not in captured.err  # the note is not


def test_verbosity_is_restored_after_main(capsys: pytest.CaptureFixture[str]) -> None:
    before = console.verbosity()
    main(["-q", "plugins"])
    assert console.verbosity() == before


def test_quiet_and_verbose_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-q", "-v", "plugins"])
    assert exc.value.code == 2


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2  # no recipe (optional for --resume, so the verb says it, not argparse)
    with pytest.raises(SystemExit) as exc:
        main(["run", "--no-such-flag"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["no-such-verb"])
    assert exc.value.code == 2


def test_config_error_exits_2_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text("[train]\nlearning_rate = 0.1\n")
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: unknown key 'train.learning_rate' (did you mean 'lr'?)")
    assert err.count("\n") == 1


def _boom(args: object) -> int:
    raise RuntimeError("disk on fire\nsecond line")


def test_unexpected_error_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("harness.cli.plugins.run", _boom)
    assert main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert err == "harness: error: RuntimeError: disk on fire second line (run with -v for the traceback)\n"


def test_verbose_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("harness.cli.plugins.run", _boom)
    assert main(["-v", "plugins"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_boom" in err
    assert err.rstrip().endswith("harness: error: RuntimeError: disk on fire second line")


def test_harness_error_keeps_its_code(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fail(args: object) -> int:
        raise HarnessError("bad input")

    monkeypatch.setattr("harness.cli.plugins.run", fail)
    assert main(["plugins"]) == 2
    assert capsys.readouterr().err == "harness: error: bad input\n"


def _progress_events(monkeypatch: pytest.MonkeyPatch, level: int) -> None:
    from harness.train.progress import Progress

    monkeypatch.setenv(console.ENV, str(level))
    metrics = {"fold": 0, "epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "val_score": 0.5, "lr": 1e-3,
               "train_img_per_s": 10.0}
    with Progress(True, folds=2, epochs=2) as p:
        task = p.start(fold=0, total=4)
        p.step(task, images=8, loss=None)
        p.step(task, images=8, loss=0.75)
        p.epoch(task, metrics)
        p.message("fold 1/2: accuracy 0.5000")


def test_progress_honours_verbosity(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _progress_events(monkeypatch, console.QUIET)
    assert capsys.readouterr().err == ""
    _progress_events(monkeypatch, console.NORMAL)
    normal = capsys.readouterr().err
    assert "fold 1/2 epoch 1/2: train_loss 1.0000" in normal and "step" not in normal
    assert "\x1b[" not in normal  # no colour codes when stderr is not a terminal
    _progress_events(monkeypatch, console.VERBOSE)
    verbose = capsys.readouterr().err
    assert "fold 1/2 epoch 1/2 step 2/2: loss 0.7500" in verbose and "fold 1/2: accuracy" in verbose


def test_warnings_are_quiet_under_q(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(console.ENV, str(console.QUIET))
    console.warn("a unique warning for this test 1", once=False)
    monkeypatch.setenv(console.ENV, str(console.NORMAL))
    console.warn("a unique warning for this test 2", once=False)
    assert capsys.readouterr().err == "harness: warning: a unique warning for this test 2\n"


@pytest.mark.slow
def test_quiet_run_prints_only_the_result(tmp_path: Path, kaggle_comp: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=kaggle_comp))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    res = subprocess.run([sys.executable, "-m", "harness", "-q", "run", str(recipe), "--out", str(tmp_path / "run"),
                          "--set", "train.epochs=1"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    score = json.loads((tmp_path / "run" / "metrics.json").read_text())["cv_score"]
    assert res.stdout.splitlines() == [f"cv accuracy {score:.4f} -> {tmp_path / 'run'}"]
    assert "fold 1/2" not in res.stderr and "epoch" not in res.stderr
