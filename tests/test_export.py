"""`harness export`: the exported module is the run's prediction (normalization inside), the
ONNX file matches PyTorch on real images (fp32 tightly, int8 by predicted class), TorchScript
matches, and the preprocessing is in the metadata."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from harness.errors import HarnessError
from harness.export.formats import require_onnx
from harness.export.model import Exportable, Normalized, describe
from harness.runtime.inputs import ModelInput
from harness.specs import TTAView

from .conftest import cli as harness
from .conftest import train_tiny

needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
                                reason="onnx and onnxruntime are optional: pip install 'harness[export]'")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def _images(n: int = 5, size: int = 12) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)


@torch.no_grad()
def test_the_exported_module_is_the_runs_prediction() -> None:
    """Normalization inside the graph equals the trainer's (ModelInput); folds and views are
    averaged as softmax probabilities; uint8 and float 0-255 inputs agree."""
    nets = [_net(0), _net(1)]
    flip = TTAView("hflip", lambda x: x.flip(-1))
    views = [TTAView("identity", lambda x: x), flip]
    module = Normalized(nets, views, MEAN, STD)
    x = _images()
    inputs = ModelInput(MEAN, STD)
    expected = torch.stack([n(v.apply(inputs(x))).softmax(-1) for n in nets for v in views]).mean(0)
    torch.testing.assert_close(module(x), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(module(x.float()), module(x), rtol=0, atol=0)
    assert torch.allclose(module(x).sum(-1), torch.ones(len(x)))


@torch.no_grad()
def test_a_geometric_run_exports_the_geometric_pool_of_its_folds_and_views() -> None:
    """pool = "geometric" is the geometric ensembler over every model x view (nested per fold, as
    the run pools them, or flat: renormalizing is a per-row constant, so they agree)."""
    from harness_plugins.ensemble.geometric import geometric_mean

    nets = [_net(0), _net(1)]
    views = [TTAView("identity", lambda x: x), TTAView("hflip", lambda x: x.flip(-1))]
    x = _images()
    inputs = ModelInput(MEAN, STD)
    per_fold = [geometric_mean([n(v.apply(inputs(x))).softmax(-1).numpy() for v in views]) for n in nets]
    ours = Normalized(nets, views, MEAN, STD, pool="geometric")(x).numpy()
    np.testing.assert_allclose(ours, geometric_mean(per_fold), rtol=0, atol=1e-6)
    assert np.abs(ours - Normalized(nets, views, MEAN, STD)(x).numpy()).max() > 1e-4  # not the mean


@pytest.mark.parametrize(("sets", "pool"), [([], "mean"), (["ensemble.name='geometric'"], "geometric"),
                                            (["ensemble.name='mean'", "ensemble.kind='geometric'"], "geometric")])
def test_the_graph_pools_as_the_recipe_does(tmp_path: Path, sets: list[str], pool: str) -> None:
    from harness.config.recipe import load_recipe
    from harness.export.model import pooling
    from harness.plugin_manager import load_plugins

    from .conftest import TINY

    (tmp_path / "r.toml").write_text(TINY.format(root=tmp_path))
    plugins = load_plugins()
    assert pooling(load_recipe(tmp_path / "r.toml", sets, plugins), plugins) == pool


def test_an_ensembler_the_graph_cannot_pool_falls_back_to_the_mean_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.config.recipe import load_recipe
    from harness.export.model import pooling
    from harness.plugin_manager import load_plugins

    from .conftest import TINY

    (tmp_path / "r.toml").write_text(TINY.format(root=tmp_path))
    plugins = load_plugins()
    assert pooling(load_recipe(tmp_path / "r.toml", ["ensemble.name='rank'"], plugins), plugins) == "mean"
    assert "ensemble.name = 'rank'; the exported graph takes their mean" in capsys.readouterr().err


def test_describe_names_the_resizing_and_leaves_normalization_to_the_graph() -> None:
    tf = v2.Compose([v2.Resize((16, 16), antialias=True), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    assert describe(tf) == ["resize to 16x16 (bilinear, antialias=True)"]
    crop = v2.Compose([v2.Resize(20, antialias=True), v2.CenterCrop(16)])
    assert describe(crop) == ["resize to shorter side 20 (bilinear, antialias=True)", "centre crop (16, 16)"]


def test_missing_onnxruntime_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(HarnessError, match=r"onnxruntime, which is not installed: pip install 'harness\[export\]'"):
        require_onnx()


@needs_onnx
def test_onnx_and_torchscript_of_a_small_module_match_pytorch(tmp_path: Path) -> None:
    from harness.export.formats import load_torchscript, onnx_session, read_metadata, run_onnx, run_torch, to_onnx, to_torchscript

    module = Normalized([_net(0), _net(1)], [TTAView("identity", lambda x: x)], MEAN, STD).eval()
    x = _images(7).numpy()  # another batch size than the export's example: the batch axis is dynamic
    to_onnx(module, tmp_path / "m.onnx", 12, "uint8", {"classes": '["a", "b", "c"]'})
    assert np.abs(run_onnx(onnx_session(tmp_path / "m.onnx"), x, "uint8") - run_torch(module, x)).max() < 1e-6
    assert read_metadata(tmp_path / "m.onnx") == {"classes": '["a", "b", "c"]'}
    to_torchscript(module, tmp_path / "m.pt", 12, "float32", {"classes": "[]"})
    assert np.abs(run_torch(load_torchscript(tmp_path / "m.pt"), x.astype(np.float32)) - run_torch(module, x)).max() < 1e-6


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run trained long enough to be confident (int8 agreement means little on ties), in fp32
    by name (whatever HARNESS_AUTO_PRECISION makes auto mean)."""
    root = tmp_path_factory.mktemp("export")
    return train_tiny(root, "train.epochs=6", "train.lr=0.01", "tta.views=['identity','hflip']", "train.precision='fp32'")


def _real_images(root: Path) -> tuple[list[Path], np.ndarray, Exportable]:
    """Every image of the competition (train and test), resized by the run's eval transform."""
    from harness.export.model import build_exportable, load_images
    from harness.plugin_manager import load_plugins

    ex = build_exportable(root / "run", load_plugins(), [], ["identity"])
    paths = sorted((root / "comp" / "train").glob("*.png")) + sorted((root / "comp" / "test").glob("*.png"))
    return paths, load_images(paths, ex.transform), ex


@pytest.mark.slow
@needs_onnx
def test_onnx_fold_matches_pytorch_on_real_images(tiny_run: Path) -> None:
    from harness.export.formats import onnx_session, read_metadata, run_onnx, run_torch
    from harness.export.model import build_exportable
    from harness.plugin_manager import load_plugins

    res = harness("export", "run", "--format", "onnx", "--fold", "0", "--out", "fold0.onnx", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    assert "max |prob difference|" in res.stdout
    _, images, _ = _real_images(tiny_run)
    assert images.dtype == np.uint8 and images.shape[1:] == (3, 16, 16)
    ex = build_exportable(tiny_run / "run", load_plugins(), [0], ["identity"])
    ours = run_onnx(onnx_session(tiny_run / "fold0.onnx"), images, "uint8")
    assert np.abs(ours - run_torch(ex.module, images)).max() < 1e-4
    meta = read_metadata(tiny_run / "fold0.onnx")
    assert json.loads(meta["classes"]) == ["class_0", "class_1", "class_2"] and meta["image_size"] == "16"
    assert meta["channel_order"] == "RGB" and meta["layout"] == "NCHW" and meta["input_dtype"] == "uint8"
    assert json.loads(meta["mean"]) == pytest.approx(list(ex.prep.mean)) and json.loads(meta["folds"]) == [0]
    assert "resize to 16x16 (bilinear" in meta["preprocess"] and "inside the graph" in meta["normalization"]


@pytest.fixture(scope="module")
def tiny_run_bf16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_run` trained and predicted under CPU bf16 autocast, on any CPU."""
    root = tmp_path_factory.mktemp("export_bf16")
    return train_tiny(root, "train.epochs=6", "train.lr=0.01", "tta.views=['identity','hflip']", "train.precision='bf16'")


@pytest.mark.slow
@needs_onnx
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_onnx_ensemble_with_the_runs_views_reproduces_its_test_predictions(request: pytest.FixtureRequest,
                                                                         precision: str) -> None:
    """The graph is the fp32 computation of the run's folds and views, to 1e-4. A run that predicted
    in fp32 is reproduced to 1e-4; one that predicted in bf16 differs from fp32 by bf16's own
    rounding, measured here on the same weights and images, and by nothing more."""
    from harness.export.formats import onnx_session, run_onnx, run_torch
    from harness.export.model import build_exportable, load_images
    from harness.metrics import softmax
    from harness.plugin_manager import load_plugins

    tiny_run = request.getfixturevalue("tiny_run" if precision == "fp32" else "tiny_run_bf16")
    res = harness("export", "run", "--ensemble", "--tta", "identity,hflip", "--input-dtype", "float32",
                  "--out", "ens.onnx", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    ex = build_exportable(tiny_run / "run", load_plugins(), [0, 1], ["identity", "hflip"])
    test_images = load_images(sorted((tiny_run / "comp" / "test").glob("*.png")), ex.transform)  # test_ids order
    expected = np.mean([softmax(np.load(tiny_run / "run" / f"fold{k}" / "logits.npz")[f"test/{v}"])
                        for k in (0, 1) for v in ("identity", "hflip")], axis=0)
    ours = run_onnx(onnx_session(tiny_run / "ens.onnx"), test_images.astype(np.float32), "float32")
    eager = run_torch(ex.module, test_images)
    assert np.abs(ours - eager).max() < 1e-4  # the export is exact
    rounding = np.abs(eager - expected).max()  # the run's own precision against fp32
    if precision == "fp32":
        assert rounding < 1e-4
    else:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            in_bf16 = run_torch(ex.module, test_images)
        assert np.abs(in_bf16 - expected).max() < 1e-4  # the run predicted in bf16: the same weights, in bf16
        assert 1e-4 < rounding < 0.05
    assert np.abs(ours - expected).max() <= rounding + 1e-4


@pytest.mark.slow
def test_torchscript_matches_pytorch(tiny_run: Path) -> None:
    from harness.export.formats import load_torchscript, run_torch

    res = harness("export", "run", "--format", "torchscript", "--out", "model.pt", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    _, images, ex = _real_images(tiny_run)
    scripted = load_torchscript(tiny_run / "model.pt")
    assert np.abs(run_torch(scripted, images) - run_torch(ex.module, images)).max() < 1e-6
    files = {"harness.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch deprecates TorchScript; loading still works
        torch.jit.load(str(tiny_run / "model.pt"), _extra_files=files)
    assert json.loads(files["harness.json"])["classes"] == '["class_0", "class_1", "class_2"]'


@pytest.mark.slow
@needs_onnx
def test_int8_onnx_agrees_on_most_real_images(tiny_run: Path) -> None:
    from harness.export.formats import onnx_session, read_metadata, run_onnx, run_torch

    res = harness("export", "run", "--int8", "--out", "int8.onnx", cwd=tiny_run)
    assert res.returncode == 0, res.stderr
    _, images, ex = _real_images(tiny_run)
    ours = run_onnx(onnx_session(tiny_run / "int8.onnx"), images, "uint8")
    reference = run_torch(ex.module, images)
    agreement = float((ours.argmax(1) == reference.argmax(1)).mean())
    print(f"int8 vs fp32 PyTorch: predicted class agrees on {agreement:.1%} of {len(images)} real images, "
          f"max |prob difference| {np.abs(ours - reference).max():.4f}")
    assert agreement >= 0.9
    assert "int8 static" in read_metadata(tiny_run / "int8.onnx")["quantization"]


@pytest.mark.slow
def test_export_cli_errors(tiny_run: Path) -> None:
    res = harness("export", "run", "--format", "torchscript", "--int8", "--out", "x.pt", cwd=tiny_run)
    assert res.returncode == 2 and "use it with --format onnx" in res.stderr
    res = harness("export", "run", "--fold", "7", "--out", "x.onnx", cwd=tiny_run)
    assert res.returncode == 2 and "not trained" in res.stderr
    res = harness("export", "comp", "--out", "x.onnx", cwd=tiny_run)
    assert res.returncode == 2 and "no run.json" in res.stderr
