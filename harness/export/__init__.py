"""`harness export`: a finished run's fold, or its fold ensemble, as one ONNX or TorchScript file
that takes 0-255 RGB images and returns class probabilities, and a multi-task run's every task's
(`model.py`); the file formats
(`formats.py`) and int8 static quantization (`quantize.py`). Each export is checked against
PyTorch on the way out."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.export.formats import (
    example_input,
    load_torchscript,
    onnx_session,
    require_onnx,
    run_onnx_all,
    run_torch_all,
    to_onnx,
    to_torchscript,
)
from harness.export.model import Exportable, build_exportable
from harness.plugin_manager import Plugins

FORMATS = ("onnx", "torchscript")


@dataclass(frozen=True)
class Exported:
    path: Path
    exportable: Exportable
    checked_on: str  # what the check below ran on
    max_abs_diff: float  # largest |p_exported - p_pytorch| over the check images, classes and tasks
    agreement: float  # share of check images whose predicted class is the same (the least of the tasks')


def _compare(ours: list[np.ndarray], theirs: list[np.ndarray]) -> tuple[float, float]:
    if len(ours) != len(theirs):
        raise HarnessError(f"the exported file has {len(ours)} output(s), the run's model {len(theirs)}")
    return (max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True)),
            min(float((a.argmax(1) == b.argmax(1)).mean()) for a, b in zip(ours, theirs, strict=True)))


def export_run(run_dir: Path, fmt: str, out: Path, plugins: Plugins, fold: int | None = None, int8: bool = False,
               views: Sequence[str] = ("identity",), input_dtype: str = "uint8",
               calibration: Sequence[Path] | None = None, calibration_count: int = 128) -> Exported:
    """Write `out`; `fold` None exports every trained fold as one averaging model. `calibration`
    (int8 only) replaces the training images drawn from the recipe's data.root."""
    if fmt not in FORMATS:
        raise HarnessError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if int8 and fmt != "onnx":
        raise HarnessError("--int8 quantizes with onnxruntime: use it with --format onnx")
    if fmt == "onnx":
        require_onnx()
    ex = build_exportable(run_dir, plugins, [] if fold is None else [fold], views)
    size, meta = ex.prep.image_size, ex.prep.metadata(input_dtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        to_torchscript(ex.module, out, size, input_dtype, meta)
        x = example_input(size, input_dtype, batch=4)
        diff, agree = _compare(run_torch_all(load_torchscript(out), x.numpy()), run_torch_all(ex.module, x.numpy()))
        return Exported(out, ex, "4 random images", diff, agree)
    if not int8:
        to_onnx(ex.module, out, size, input_dtype, meta)
        batch = example_input(size, input_dtype, batch=4).numpy()
        diff, agree = _compare(run_onnx_all(onnx_session(out), batch, input_dtype), run_torch_all(ex.module, batch))
        return Exported(out, ex, "4 random images", diff, agree)
    from harness.export.model import load_images
    from harness.export.quantize import calibration_paths, quantize

    paths = list(calibration) if calibration else calibration_paths(ex.recipe.data.root, ex.recipe, calibration_count)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        to_onnx(ex.module, fp32, size, input_dtype, meta)
        quantize(fp32, out, paths, ex.transform, input_dtype)
    images = load_images(paths, ex.transform)
    diff, agree = _compare(run_onnx_all(onnx_session(out), images, input_dtype), run_torch_all(ex.module, images))
    return Exported(out, ex, f"the {len(paths)} calibration images", diff, agree)


__all__ = ["FORMATS", "Exported", "export_run"]
