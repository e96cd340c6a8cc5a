"""The small frozen dataclasses that plugins return from the component hooks.

Every component has a `name` (what a recipe writes), an `options` dataclass (the recipe keys it
accepts, typed, with defaults) and a `build` function. The core validates the recipe's section
against `options`, then calls `build(options, context)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from harness.config.schema import ModelConfig

OptionsT = TypeVar("OptionsT")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NoOptions:
    """Options type for a component that takes no recipe keys."""


@dataclass(frozen=True)
class BuildContext:
    """What a component may need to know about the fold it is built for."""

    num_classes: int
    labels: np.ndarray  # integer class index of every training sample of this fold
    seed: int
    epochs: int
    steps_per_epoch: int  # optimizer updates per epoch
    batch_size: int  # per process
    world_size: int
    base_lr: float
    image_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN  # input normalization the model expects
    std: tuple[float, ...] = IMAGENET_STD
    higher_is_better: bool = True  # of the validation metric (cv.metric)
    # False: sample transforms may return uint8 images (0-255) and the trainer normalizes them on
    # the device with `mean` and `std` (a GPU with `data.normalize_on_device`).
    normalize: bool = True

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass(frozen=True)
class Component(Generic[OptionsT]):
    """A named, configurable piece that a recipe can select."""

    name: str
    build: Callable[..., Any]
    options: type = NoOptions
    doc: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Builds a classifier: `build(model_config, num_classes) -> nn.Module`."""

    name: str
    build: Callable[[ModelConfig, int], nn.Module]
    doc: str = ""


class Loss(Protocol):
    """`loss(logits, target)`: target is class indices (N,) or soft targets (N, C)."""

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...


class BatchTransform(Protocol):
    """Transforms a batch on the device (CutMix, batch-level jitter): returns images and targets,
    hard (N,) or soft (N, C)."""

    def __call__(
        self, images: torch.Tensor, target: torch.Tensor, epoch: int
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class SampleTransform(Protocol):
    """Turns one decoded uint8 CHW image into a float tensor of the training size."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


class Schedule(Protocol):
    """Learning-rate schedule. `factor(update)` is a pure function of the optimizer update index;
    `on_epoch_end(metric)` lets a metric-driven schedule (plateau) react."""

    def factor(self, update: int) -> float: ...

    def on_epoch_end(self, metric: float) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class StatelessSchedule:
    """Base for a schedule that is a pure function of the update index: nothing to save or restore."""

    def on_epoch_end(self, metric: float) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class TTAView:
    """One predict-time view: maps a normalized batch (N, C, H, W) to a batch of the same shape."""

    name: str
    apply: Callable[[torch.Tensor], torch.Tensor]


class Ensembler(Protocol):
    """Combines probability matrices (each (N, C)) with optional weights into one (N, C)."""

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray: ...


class Callback:
    """Lifecycle events a trick can react to. Subclass and override what you need.

    Events, in order: `on_fold_start`, then per epoch `on_epoch_start`, `after_optimizer_step`
    (after every optimizer update), `on_epoch_end` (metrics are filled in; set `state.stop`),
    and at evaluation and predict time `eval_models` (extra weights to evaluate next to the raw
    model, such as an EMA). `state_dict`/`load_state_dict` make a trick resumable.
    """

    def on_fold_start(self, state: Any) -> None: ...

    def on_epoch_start(self, state: Any) -> None: ...

    def after_optimizer_step(self, state: Any) -> None: ...

    def on_epoch_end(self, state: Any) -> None: ...

    def eval_models(self, state: Any) -> dict[str, nn.Module]:
        return {}

    def lr_factor(self, state: Any, group: str) -> float:
        """Multiplier on the learning rate of parameter group `group` ("backbone" or "head")."""
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
