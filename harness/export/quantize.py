"""int8 ONNX by onnxruntime's static quantization (`onnxruntime.quantization.quantize_static`,
QDQ format, per-channel int8 weights, uint8 activations calibrated by min-max on real training
images), as onnxruntime's documentation describes it: pre-process (shape inference and graph
optimization), then calibrate and quantize."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.export.formats import INPUT, read_metadata, require_onnx, write_metadata
from harness.specs import SampleTransform


def calibration_paths(data_root: str, recipe: Any, count: int, seed: int = 0) -> list[Path]:
    """`count` training images of the run's competition, drawn at random (seeded)."""
    from dataclasses import replace

    from harness.data.competition import load_competition

    if not data_root or not Path(data_root).exists():
        raise HarnessError(f"--int8 calibrates on training images, and data.root {data_root!r} of the run's "
                           "recipe is not there: give --calibration DIR with a few hundred images like them")
    comp = load_competition(replace(recipe.data, root=data_root))
    pick = np.random.default_rng(seed).permutation(len(comp.train))[:count]
    return [comp.train.paths[i] for i in sorted(pick)]


def calibration_reader(images: np.ndarray, input_dtype: str, batch: int = 8) -> Any:
    """A `CalibrationDataReader` over uint8 (N, 3, S, S) images, `batch` at a time."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([images[i:i + batch] for i in range(0, len(images), batch)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.batches, None)
            if x is None:
                return None
            return {INPUT: x.astype(np.uint8 if input_dtype == "uint8" else np.float32)}

        def rewind(self) -> None:
            self.__init__()  # type: ignore[misc]

    return Reader()


def quantize(fp32: Path, out: Path, paths: Sequence[Path], transform: SampleTransform, input_dtype: str) -> None:
    """`fp32` (an exported ONNX file) -> `out`, int8, calibrated on `paths`."""
    require_onnx()
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from harness.export.model import load_images

    if not paths:
        raise HarnessError("--int8 needs calibration images, and none were found")
    images = load_images(paths, transform)
    metadata = read_metadata(fp32)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(str(prepared), str(out), calibration_reader(images, input_dtype),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    write_metadata(out, {**metadata, "quantization": f"int8 static (onnxruntime QDQ, per-channel weights, "
                                                    f"min-max on {len(paths)} training images)"})
