"""Writing the exported module: ONNX (with the preprocessing in `metadata_props`) and TorchScript
(with it in the extra file `harness.json`).

ONNX goes through torch's TorchScript-based exporter (`dynamo=False`): it needs no `onnxscript`,
takes about a second, and gives the plain opset-17 graph that onnxruntime's static quantizer
expects. torch marks it deprecated in favour of the `torch.export` one; `dynamo=True` is the one
line to change when it goes."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.errors import HarnessError

INPUT, OUTPUT = "images", "probs"  # a multi-task run's further tasks add outputs "probs_TASK"
OPSET = 17
INSTALL = "pip install 'harness[export]' (or: pip install onnx onnxruntime)"


def output_names(tasks: Sequence[str] = ()) -> list[str]:
    """The graph's outputs: the run's own task's probabilities, then each further task's."""
    return [OUTPUT, *(f"{OUTPUT}_{t}" for t in tasks)]


def require_onnx() -> None:
    """A HarnessError that says how to install what ONNX export needs."""
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise HarnessError(f"ONNX export needs {' and '.join(missing)}, which is not installed: {INSTALL}")


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Tracing warns about every Python-side shape read, and TorchScript about its own
    deprecation; neither says anything about this graph, whose input size is fixed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def example_input(size: int, dtype: str, batch: int = 2) -> torch.Tensor:
    x = torch.randint(0, 256, (batch, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return x if dtype == "uint8" else x.float()


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def read_metadata(path: Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def to_onnx(module: nn.Module, path: Path, size: int, input_dtype: str, metadata: dict[str, str]) -> None:
    require_onnx()
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs = json.loads(metadata.get("outputs", "null")) or [OUTPUT]
    with quiet_tracing(), torch.no_grad():
        torch.onnx.export(
            module, (example_input(size, input_dtype),), str(path), dynamo=False, opset_version=OPSET,
            input_names=[INPUT], output_names=outputs, do_constant_folding=True,
            dynamic_axes={INPUT: {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
        )
    write_metadata(path, metadata)


def to_torchscript(module: nn.Module, path: Path, size: int, input_dtype: str, metadata: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(module, example_input(size, input_dtype))
        torch.jit.save(traced, str(path), _extra_files={"harness.json": json.dumps(metadata, indent=1)})


def onnx_session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime CPU session; `threads` 0 lets onnxruntime choose."""
    require_onnx()
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def load_torchscript(path: Path) -> Any:
    with quiet_tracing():
        return torch.jit.load(str(path))


def run_onnx(session: Any, images: np.ndarray, input_dtype: str) -> np.ndarray:
    """The run's own task's probabilities."""
    return run_onnx_all(session, images, input_dtype)[0]


def run_onnx_all(session: Any, images: np.ndarray, input_dtype: str) -> list[np.ndarray]:
    """Every output: the own task's probabilities, then each further task's."""
    x = images.astype(np.uint8 if input_dtype == "uint8" else np.float32)
    return [np.asarray(y) for y in session.run(None, {INPUT: x})]


def run_torch(module: nn.Module, images: np.ndarray) -> np.ndarray:
    return run_torch_all(module, images)[0]


@torch.no_grad()
def run_torch_all(module: nn.Module, images: np.ndarray) -> list[np.ndarray]:
    out = module(torch.from_numpy(np.ascontiguousarray(images)))
    return [np.asarray(y.numpy()) for y in (out if isinstance(out, (tuple, list)) else (out,))]
