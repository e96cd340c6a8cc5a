"""Any timm model by name (`model.source = "timm"`), with hub weights when they can be had and a
clear way forward when they cannot: `model.pretrained = false`, or a local `model.weights` file.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.specs import ModelSettings, ModelSpec

HUB_HOST = "huggingface.co"


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _create_pretrained(cfg: ModelSettings, num_classes: int):
    import huggingface_hub.constants as hub
    import timm

    kwargs: dict[str, Any] = {"num_classes": num_classes, "drop_rate": cfg.drop_rate}
    offline_before = hub.HF_HUB_OFFLINE
    hub.HF_HUB_OFFLINE = True  # the local cache first: instant, and no retries against a dead network
    try:
        return timm.create_model(cfg.name, pretrained=True, **kwargs)
    except Exception as cached_error:
        error: Exception = cached_error
    finally:
        hub.HF_HUB_OFFLINE = offline_before
    if _hub_reachable():
        try:
            return timm.create_model(cfg.name, pretrained=True, **kwargs)
        except Exception as exc:
            error = exc
    raise HarnessError(
        f"model.pretrained=true but the pretrained weights of {cfg.name!r} are not in the local cache and "
        f"cannot be downloaded ({type(error).__name__}). Either train from scratch with "
        f"--set model.pretrained=false, or point model.weights at a local .safetensors/.pth file"
    )


def check_timm(cfg: ModelSettings) -> None:
    import timm

    from harness.errors import suggest

    if not timm.is_model(cfg.name):
        raise HarnessError(f"model.name: timm has no model {cfg.name!r}{suggest(cfg.name, timm.list_models())}")


def build_timm(cfg: ModelSettings, num_classes: int):
    import timm

    from harness.weights import load_into, read_state_dict

    check_timm(cfg)
    if cfg.pretrained and not cfg.weights:
        return _create_pretrained(cfg, num_classes)
    model = timm.create_model(cfg.name, pretrained=False, num_classes=num_classes, drop_rate=cfg.drop_rate)
    if cfg.weights:
        load_into(model, read_state_dict(cfg.weights), f"model.weights {cfg.weights}")
    return model


@hookimpl
def harness_models() -> list[ModelSpec]:
    return [ModelSpec("timm", build_timm, doc="timm.create_model(model.name)", check=check_timm)]
