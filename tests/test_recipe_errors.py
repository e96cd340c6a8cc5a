"""Every mistake in a recipe or on the command line ends the same way: exactly one line on stderr,
`harness: error: ...`, that names the offending key (and the nearest valid one for a typo), and
exit code 2. Most cases call `harness.cli.main` in-process; a few run the real `harness` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cli import main

HARNESS = Path(sys.executable).parent / "harness"

# (recipe text, --set overrides, what the one error line must contain)
CASES: dict[str, tuple[str, list[str], list[str]]] = {
    "malformed_toml": ("[train\nlr = 1\n", [], ["does not parse", "line 1"]),
    "duplicate_key": ("[train]\nlr = 1\nlr = 2\n", [], ["does not parse"]),
    "string_for_float": ('[train]\nlr = "fast"\n', [], ["train.lr: expected float, got 'fast'"]),
    "float_for_int": ("[train]\nepochs = 2.5\n", [], ["train.epochs: expected int, got 2.5"]),
    "bool_for_int": ("[train]\nbatch_size = true\n", [], ["train.batch_size: expected int"]),
    "list_for_table": ("train = [1, 2]\n", [], ["'train' must be a table"]),
    "array_of_tables": ('[[data]]\nroot = "x"\n', [], ["'data' must be a table"]),
    "string_for_list": ('[cv]\nonly = "0"\n', [], ["cv.only: expected list of int"]),
    "bad_choice": ('[data]\nlayout = "csv"\n', [], ["data.layout: expected 'auto' or 'kaggle' or"]),
    "long_name": ("[train]\nlearning_rate = 0.1\n", [], ["'train.learning_rate'", "did you mean 'lr'"]),
    "misspelled_key": ("[train]\nbatchsize = 8\n", [], ["'train.batchsize'", "did you mean 'batch_size'"]),
    "plugin_option_typo": ("[augment]\nhflipp = 0.5\n", [], ["'augment.hflipp'", "did you mean 'hflip'"]),
    "nested_unknown_table": ("[train.extra]\nx = 1\n", [], ["'train.extra'"]),
    "misspelled_section": ("[trian]\nlr = 0.1\n", [], ["'trian'", "did you mean 'train'"]),
    "unknown_section": ("[optimizer]\nname = 'sgd'\n", [], ["'optimizer'", "valid: base, data"]),
    "negative_lr": ("[train]\nlr = -0.1\n", [], ["train.lr: must be > 0"]),
    "infinite_lr": ("[train]\nlr = inf\n", [], ["train.lr: expected a finite number, got inf"]),
    "nan_momentum": ("[train]\nmomentum = nan\n", [], ["train.momentum: expected a finite number"]),
    "momentum_over_one": ("[train]\nmomentum = 1.5\n", [], ["train.momentum: must be in [0, 1)"]),
    "negative_seed": ("[train]\nseed = -1\n", [], ["train.seed"]),
    "zero_epochs": ("[train]\nepochs = 0\n", [], ["train.epochs: must be >= 1"]),
    "one_fold": ("[cv]\nfolds = 1\n", [], ["cv.folds: must be >= 2"]),
    "fold_out_of_range": ("[cv]\nfolds = 3\nonly = [3]\n", [], ["cv.only: fold 3 is not in 0..2"]),
    "fold_twice": ("[cv]\nonly = [0, 0]\n", [], ["cv.only: lists a fold more than once"]),
    "smoothing_over_one": ("[loss]\nsmoothing = 1.5\n", [], ["loss.smoothing: must be in [0, 1)"]),
    "extension_without_dot": ('[data]\nextension = "png"\n', [], ["data.extension", "'.png'"]),
    "no_tta_views": ("[tta]\nviews = []\n", [], ["tta.views: must list at least one view"]),
    "tta_view_typo": ('[tta]\nviews = ["identity", "hflipp"]\n', [], ["tta.views:", "did you mean 'hflip'"]),
    "unknown_model_source": ('[model]\nsource = "tim"\n', [], ["model.source:", "did you mean 'timm'"]),
    "plugin_name_not_a_string": ("[sampler]\nname = 3\n", [], ["sampler.name: expected str, got 3"]),
    "unknown_batch_transform": ("[batch_transforms.mixupp]\n", [], ["batch_transforms.mixupp:", "'mixupp'"]),
    "base_not_a_string": ("base = 1\n", [], ["'base' must be a file name"]),
    "base_missing": ('base = "missing.toml"\n', [], ["base = 'missing.toml'", "missing.toml"]),
    "newline_in_key": ('[train]\n"a\\nb" = 1\n', [], ["unknown key 'train.a b'"]),
    "set_without_equals": ("", ["train.lr"], ["--set 'train.lr': expected KEY=VALUE"]),
    "set_without_section": ("", ["lr=0.1"], ["--set 'lr=0.1': the key must name a section"]),
    "set_wrong_type": ("", ["train.epochs=many"], ["train.epochs: expected int, got 'many'"]),
    "set_float_for_int": ("", ["train.epochs=2.5"], ["train.epochs: expected int, got 2.5"]),
    "set_unknown_key": ("", ["train.learning_rate=0.1"], ["'train.learning_rate'", "did you mean 'lr'"]),
    "set_unknown_plugin": ("", ["loss.name=crossentropy"], ["loss.name:", "did you mean 'cross_entropy'"]),
    "set_out_of_range": ("[train]\nlr = 0.1\n", ["train.lr=-1"], ["train.lr: must be > 0"]),
    "fitting_ensembler_in_a_run": ('[ensemble]\nname = "hill_climb"\n', [],
                                   ["ensemble.name = 'hill_climb' fits weights on the OOF",
                                    "harness ensemble RUN_DIR --method hill_climb --out DIR"]),
    "fitting_ensembler_by_set": ("", ["ensemble.name=slsqp"], ["ensemble.name = 'slsqp' fits weights"]),
}


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith("harness: error: ")
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_recipe_mistake_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    text, overrides, wanted = CASES[case]
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(text)
    sets = [a for s in overrides for a in ("--set", s)]
    assert main(["run", str(recipe), "--out", str(tmp_path / "out"), *sets]) == 2
    out, err = capsys.readouterr()
    line = one_error_line(err)
    for part in wanted:
        assert part in line
    assert out == "" and not (tmp_path / "out").exists()


def test_missing_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert f"recipe not found: {tmp_path / 'nope.toml'}" in one_error_line(capsys.readouterr().err)


def test_recipe_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "latin1.toml").write_bytes("# caf\xe9\n[train]\nlr = 0.1\n".encode("latin-1"))
    assert main(["run", str(tmp_path / "latin1.toml")]) == 2
    assert "latin1.toml is not UTF-8 text" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("chain", [["a"], ["a", "b"], ["a", "b", "c"]])
def test_base_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str], chain: list[str]) -> None:
    for name, base in zip(chain, chain[1:] + chain[:1], strict=True):
        (tmp_path / f"{name}.toml").write_text(f'base = "{base}.toml"\n')
    assert main(["run", str(tmp_path / "a.toml")]) == 2
    assert "extends itself through 'base'" in one_error_line(capsys.readouterr().err)


def test_a_good_base_chain_still_loads(tmp_path: Path) -> None:
    from harness.config.recipe import load_recipe

    (tmp_path / "grand.toml").write_text("[train]\nlr = 0.5\nepochs = 7\n")
    (tmp_path / "parent.toml").write_text('base = "grand.toml"\n[train]\nepochs = 3\n')
    (tmp_path / "child.toml").write_text('base = "parent.toml"\n[cv]\nfolds = 4\n')
    r = load_recipe(tmp_path / "child.toml", ["train.lr=0.25"])
    assert (r.train.lr, r.train.epochs, r.cv.folds) == (0.25, 3, 4)


# ---------------------------------------------------------------- the real entry point


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_PLUGINS": "", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [str(HARNESS), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_real_cli_typo_in_recipe(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text("[train]\nlearning_rate = 0.1\n")
    done = run_cli("run", "r.toml", "--set", "train.epochs=1", cwd=tmp_path)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "'train.learning_rate'" in line and "did you mean 'lr'" in line


@pytest.mark.slow
def test_real_cli_bad_override(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text("[train]\nlr = 0.1\n")
    done = run_cli("run", "r.toml", "--set", "loss.name=crossentropy", cwd=tmp_path)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "loss.name: no loss named 'crossentropy' (did you mean 'cross_entropy'?)" in line


def tiny_kaggle_competition(root: Path, counts: dict[str, int]) -> Path:
    """train.csv + train/ID.png, `counts[label]` images per class."""
    (root / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for label, n in counts.items():
        for _ in range(n):
            i = len(rows)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / "train" / f"{i}.png")
            rows.append(f"{i},{label}")
    (root / "train.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_real_cli_more_folds_than_the_smallest_class(tmp_path: Path) -> None:
    comp = tiny_kaggle_competition(tmp_path / "comp", {"cat": 3, "dog": 2})
    (tmp_path / "r.toml").write_text(f'[data]\nroot = "{comp}"\nimage_size = 8\n[cv]\nfolds = 3\n')
    done = run_cli("run", "r.toml", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "cv.folds=3" in line and "'dog' has only 2 image(s)" in line
    assert not (tmp_path / "out" / "metrics.json").exists()
