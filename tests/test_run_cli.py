"""`harness run`'s arguments: `--resume --out DIR` is a whole command (the recorded recipe runs), and
every refusal says what to type instead. No training here (test_resume.py resumes killed runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import build_parser, main


def _run_help() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["run"].format_help()  # type: ignore[attr-defined]


def _unfinished(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text("[train]\nepochs = 1\n")
    return folder


def test_help_says_resume_needs_only_the_folder_and_takes_no_set() -> None:
    text = " ".join(_run_help().split())
    assert "harness run --resume --out runs/digits" in text
    assert "with the recipe it recorded; takes no --set" in text
    assert "not even one that repeats a recorded value" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["run"], "harness run needs a recipe (harness run RECIPE.toml), or --resume --out DIR"),
    (["run", "--resume"], "--resume needs the run folder: harness run --resume --out DIR"),
])
def test_what_to_type_instead(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == f"harness: error: {message}\n"


def test_resume_refuses_set_even_to_the_recorded_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _unfinished(tmp_path / "run")
    assert main(["run", "--resume", "--out", str(run), "--set", "train.epochs=1"]) == 2
    assert "--set cannot change it (leave --set out" in capsys.readouterr().err


def test_resume_without_a_recipe_checks_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "holds no run to resume (no recipe.toml)" in capsys.readouterr().err
    done = _unfinished(tmp_path / "done")
    (done / "metrics.json").write_text("{}")
    assert main(["run", "--resume", "--out", str(done)]) == 2
    assert "has already finished" in capsys.readouterr().err


def test_a_new_run_on_an_unfinished_folder_names_the_resume_command(tmp_path: Path, kaggle_comp: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import TINY

    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=kaggle_comp))
    run = _unfinished(tmp_path / "run")
    assert main(["run", str(recipe), "--out", str(run)]) == 2
    assert f"continue it with `harness run --resume --out {run}`" in capsys.readouterr().err
