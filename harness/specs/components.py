"""What every component shares: its name, options and build function (`Component`), the fold it
is built for (`BuildContext`), and the model sources (`ModelSpec`, `ModelSettings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.specs.metric import MetricSpec

if TYPE_CHECKING:
    import numpy as np
    from torch import nn


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NoOptions:
    """Options type for a component that takes no recipe keys."""


@dataclass(frozen=True)
class BuildContext:
    """What a component may need to know about the fold it is built for."""

    num_classes: int  # C: logits and soft targets are (N, C)
    labels: np.ndarray  # integer class index of every training sample of this fold
    seed: int  # this fold's seed (train.seed + 1000 * fold): seed your own generators from it
    epochs: int  # train.epochs
    steps_per_epoch: int  # optimizer updates per epoch
    batch_size: int  # the global batch (train.batch_size); each process trains on batch_size / world_size of it
    world_size: int  # processes training together
    base_lr: float  # train.lr, before any schedule factor
    image_size: int  # S: training and prediction images are S x S
    mean: tuple[float, ...] = IMAGENET_MEAN  # input normalization the model expects
    std: tuple[float, ...] = IMAGENET_STD  # see mean
    metric: MetricSpec | None = None  # the validation metric (cv.metric); its direction: metric.better, .sign, .best
    # False: sample transforms may return uint8 images (0-255) and the trainer normalizes them on
    # the device with `mean` and `std` (a GPU with `data.normalize_on_device`).
    normalize: bool = True
    # This process's index in [0, world_size). Each process's batch is its rank's contiguous piece
    # of the global batch, so a batch transform that draws per-image randomness for the whole
    # global batch and keeps rows rank * n to (rank + 1) * n augments alike on any number of processes.
    rank: int = 0

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def higher_is_better(self) -> bool:
        """The validation metric's direction (a context built without a metric: higher)."""
        return self.metric is None or self.metric.higher_is_better


class Selection(Protocol):
    """A recipe's choice of one component: its name and its validated options (the core's
    `harness.config.schema.Selected`)."""

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> Any: ...


@dataclass(frozen=True)
class Component:
    """A named, configurable piece that a recipe can select."""

    name: str  # what a recipe writes: lowercase, unique among the components of its kind
    build: Callable[..., Any]  # (options, context, ...) -> the component; see its hook for the signature
    options: type = NoOptions  # a frozen dataclass: its fields are the recipe keys, each documented by its comment
    doc: str = ""  # one line for `harness plugins`, docs/hooks.md and docs/recipe.md


class ModelSettings(Protocol):
    """The recipe's [model] section as a model builder reads it (the core passes its
    `ModelConfig`; docs/recipe.md documents each key)."""

    @property
    def source(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def pretrained(self) -> bool: ...

    @property
    def weights(self) -> str: ...

    @property
    def drop_rate(self) -> float: ...

    @property
    def channels_last(self) -> bool: ...

    @property
    def freeze_bn(self) -> bool: ...


@dataclass(frozen=True)
class ModelSpec:
    """Builds a classifier: `build(model_config, num_classes) -> nn.Module`, on the host (the core
    moves it to the device). The module maps float32 (N, 3, H, W) normalized images to (N,
    num_classes) logits. Optional: `pretrained_cfg = {"mean": ..., "std": ...}` gives the input
    normalization (else ImageNet's); `get_classifier()` names the head (else the last child module),
    whose parameters form the "head" parameter group, the rest "backbone"."""

    name: str  # the value of `model.source`
    build: Callable[[ModelSettings, int], nn.Module]  # (the [model] section, number of classes) -> the module
    doc: str = ""  # one line for `harness plugins`
    # raises HarnessError for a [model] section `build` would refuse, without building anything
    # (no weights read): how `harness tune` refuses a searched model.name before any trial
    check: Callable[[ModelSettings], None] | None = None
