"""What flows through a fold: the `Batch`, and the protocols of the pieces that make and consume it
(sample and batch transforms, the loss, the sampler, the schedule, the TTA views)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


@dataclass
class Batch:
    """One training batch of one process, on the device, as batch transforms, the loss and the
    callbacks see it.

    - `images`: float32 (N, 3, H, W), normalized with the model's mean and std, channels_last when
      `model.channels_last` is on; on the training device.
    - `target`: int64 class indices (N,), or float32 soft targets (N, C) once a batch transform
      such as CutMix has mixed them.
    - `index`: int64 (N,) positions in the fold's training split: `state.train_ids[index[i]]` is
      the competition id of sample i. Batch transforms that reorder or mix samples leave it as
      it was (it names the sample whose image dominates).
    - `extras`: per-sample tensors with N rows that plugins add (a teacher's soft labels, say);
      a mixing batch transform mixes every floating-point extra with the same weights as the
      targets, and leaves integer extras alone.
    """

    images: torch.Tensor
    target: torch.Tensor
    index: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def with_(self, **changes: Any) -> Batch:
        """A copy with some fields replaced: `batch.with_(images=mixed, target=soft)`."""
        return replace(self, **changes)


class Loss(Protocol):
    """`loss(logits, batch)` -> a scalar. `logits` are (N, C) in the autocast dtype; `batch.target`
    is class indices (N,) or soft targets (N, C). Most losses need only the target: wrap a
    `(logits, target)` function with `target_loss`."""

    def __call__(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor: ...


class TargetLoss:
    """A `Loss` from a plain `(logits, target) -> scalar` function or module, which knows nothing of
    the harness (`SmoothedCrossEntropy`, timm's losses)."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.fn = fn

    def __call__(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.fn(logits, batch.target)


def target_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> TargetLoss:
    return TargetLoss(fn)


class BatchTransform(Protocol):
    """Transforms a batch on the device (CutMix, batch-level jitter) and returns it; `epoch` is
    the 0-based training epoch. The images keep their shape and dtype; the target may become soft
    (N, C)."""

    def __call__(self, batch: Batch, epoch: int) -> Batch: ...


class SampleTransform(Protocol):
    """Turns one decoded image into the training size, in a loader worker on the host (CPU). In:
    uint8 (3, H, W) RGB, 0-255, any H and W (EXIF orientation applied; from the cache, already
    resized). Out: (3, S, S) with S = `BuildContext.image_size`, float32 normalized with the
    context's `mean` and `std` when `context.normalize`, else uint8 0-255 (the device normalizes).
    Randomness must come from torch's global CPU generator, which the dataset seeds per (seed,
    epoch, sample index): numpy or `random` would break the exact resume."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


class EpochSampleTransform(SampleTransform, Protocol):
    """A sample transform that changes with the epoch (progressive resizing). The training dataset
    calls `at_epoch(epoch)` (0-based) for the transform of each item, so an item is a pure function
    of (image, seed, epoch, index) and a resumed epoch replays exactly. Every item of one epoch
    must come out at one size, since they share a batch. Called plainly (prediction, an index
    without an epoch) it is the transform of the last epoch, at `BuildContext.image_size`."""

    def at_epoch(self, epoch: int) -> SampleTransform: ...


class Sampler(Protocol):
    """What `harness_samplers` builds: a `torch.utils.data.Sampler` over the fold's training split.
    `__iter__` yields int positions in [0, len(context.labels)) (the context's `labels` are the
    split's classes, in order), `__len__` is the draw's length. The draw must depend only on
    (context.seed, epoch): it is one global sequence, the same on every process, that Accelerate
    shards, and a resumed epoch replays it and skips what was trained."""

    def set_epoch(self, epoch: int) -> None: ...

    def __iter__(self) -> Iterator[int]: ...

    def __len__(self) -> int: ...


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
    """One predict-time view: `apply` maps a normalized float batch (N, 3, H, W) on the device (float32,
    or the autocast dtype; channels_last when the model is) to a batch of the same shape and dtype,
    deterministically. Every view's logits are kept (`logits.npz`) and ensembled by `ensemble.name`."""

    name: str  # unique among the run's views: logits.npz keys, and `harness ensemble --tta` picks views by it
    apply: Callable[[torch.Tensor], torch.Tensor]  # (N, 3, H, W) -> (N, 3, H, W)
