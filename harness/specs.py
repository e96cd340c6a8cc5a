"""The small frozen dataclasses that plugins return from the component hooks.

Every component has a `name` (what a recipe writes), an `options` dataclass (the recipe keys it
accepts, typed, with defaults) and a `build` function. The core validates the recipe's section
against `options`, then calls `build(options, context)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import torch
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


@dataclass(frozen=True)
class MetricSpec:
    """A competition metric, selected by `cv.metric`. `fn(y_true, probs)` takes int class indices
    (N,) and class probabilities (N, C) (rows sum to 1) and returns a float. A metric that only
    needs labels (`needs_probs=False`) reads `probs.argmax(1)`, so a label submission scores
    through one-hot rows."""

    name: str  # the value of `cv.metric`
    fn: Callable[[np.ndarray, np.ndarray], float]  # (int labels (N,), probabilities (N, C)) -> score
    higher_is_better: bool  # the direction: picks the best epoch, candidate and ensemble weights
    needs_probs: bool  # False: reads only probs.argmax(1), so label submissions score too
    doc: str = ""  # one line for `harness plugins`

    def __call__(self, y_true: np.ndarray, probs: np.ndarray) -> float:
        return float(self.fn(y_true, probs))

    # The metric's direction, in one place: every comparison, ranking and optimisation asks these.
    @property
    def sign(self) -> float:
        """+1.0 or -1.0: `sign * score` grows as the score gets better (sort, maximise by it)."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's name for the direction."""
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def in_words(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def better(self, a: float, b: float | None, min_delta: float = 0.0) -> bool:
        """Whether score `a` beats `b` (None: nothing to beat) by more than `min_delta`."""
        if b is None:
            return True
        return self.sign * (a - b) > min_delta

    def best(self, scores: Iterable[float]) -> float:
        """The best of `scores` (at least one)."""
        return max(scores, key=lambda s: self.sign * s)


class Ensembler(Protocol):
    """Combines probability matrices into one. `probs`: a sequence of float (N, C) arrays on the
    host, rows summing to 1, every matrix with the same rows in the same order (TTA views of one
    fold, the folds of a run, or the members of `harness ensemble`). `weights`: one non-negative
    float per matrix (None: equal); they need not sum to 1. Returns a float64 (N, C) array whose
    rows sum to 1. An ensembler may look at the whole column (rank averaging does), so the rows it
    is given are the rows it scores."""

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray: ...


POOL_FLOOR = 1e-12  # the geometric pool's floor: a zero probability would zero the whole product
PoolKind = Literal["mean", "geometric"]


@dataclass(frozen=True)
class Pooled:
    """An `Ensembler` that pools each row's probabilities alone, in a way an exported graph can
    compute too: `pool = "mean"` (their mean) or `"geometric"` (the mean of their logs, each
    probability floored at `POOL_FLOOR`, renormalized). `harness export` pools a run's folds and
    views as its ensembler does when the built ensembler is `Pooled`; for any other (rank
    averaging, fitted weights) the graph takes the mean, and says so."""

    pool: PoolKind
    combine: Callable[[Sequence[np.ndarray], Sequence[float] | None], np.ndarray]

    def __call__(self, probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return self.combine(probs, weights)


@dataclass(frozen=True)
class EnsembleFit:
    """What a fitting ensembler learned: one weight per input matrix (non-negative, summing to 1)
    and, in words, the objective it optimised: the metric's name, or e.g. "log_loss (surrogate:
    accuracy has no gradient)"."""

    weights: tuple[float, ...]  # one per input matrix, >= 0, summing to 1
    objective: str  # what was optimised, in words


@runtime_checkable
class FittingEnsembler(Ensembler, Protocol):
    """An ensembler that learns its weights from labelled rows (hill climbing, an optimiser).
    `fit(probs, y, metric)` gets the matrices of the rows to fit on, their int labels (N,) and the
    `MetricSpec` to optimise; `harness ensemble` then calls `ensembler(probs, fit.weights)` on any
    rows (held-out folds, test, holdout). Without `fit`, an ensembler uses equal or user weights."""

    def fit(self, probs: Sequence[np.ndarray], y: np.ndarray, metric: MetricSpec) -> EnsembleFit: ...


class FoldState(Protocol):
    """What every callback event receives: the fold's trainer state, read-only to a plugin (the
    trainer's `harness.train.state.TrainState` is one; `harness.testing.train_state()` builds a
    real one for tests).

    To stop, call `state.request_stop(reason)` (this fold), `request_stop(reason, run=True)` (the
    whole run: no further folds) or `request_stop(reason, discard=True)` (the whole run, at once,
    with no predictions and no outputs: a pruned tuning trial). The main process's decision is
    broadcast at the end of the epoch, so every rank stops together, after the same epoch."""

    @property
    def recipe(self) -> Any:
        """The frozen, validated `harness.config.schema.Recipe` of the run."""

    @property
    def accelerator(self) -> Any:
        """The `accelerate.Accelerator`: `.device`, `.num_processes`, `.is_main_process`, `.autocast`."""

    @property
    def model(self) -> nn.Module:
        """The model as prepared for training (DDP-wrapped under several processes); call it."""

    @property
    def unwrapped(self) -> nn.Module:
        """The bare module under `model`: read or copy its weights here (EMA does)."""

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Each param group has `part` ("backbone" or "head") and `base_lr`."""

    @property
    def fold(self) -> int:
        """This fold's index, 0-based."""

    @property
    def inputs(self) -> Any:
        """Images -> model input (memory format, normalization on the device); `.mean`, `.std`."""

    @property
    def train_ids(self) -> tuple[str, ...]:
        """The competition ids of this fold's training split: `train_ids[batch.index[i]]`;
        pseudo-labelled images (a `PseudoLabeller` callback's) follow the labelled ids."""

    @property
    def fold_of(self) -> Mapping[str, int]:
        """The run's fold assignment: labelled id -> fold, as in `folds.csv`."""

    @property
    def loss(self) -> Loss | None:
        """The fold's `Loss` as built (a teacher attaches its model to a distillation loss)."""

    @property
    def epoch(self) -> int:
        """The current epoch, 0-based."""

    @property
    def update(self) -> int:
        """Optimizer updates so far in this fold (skipped non-finite updates count)."""

    @property
    def metrics(self) -> dict[str, Any]:
        """This epoch's row, filled before `on_epoch_end`: `val_score` (raw weights),
        `val_score_NAME` per candidate, `val_loss`, `train_loss`, `lr`, timing."""

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every earlier epoch's `metrics` row."""

    @property
    def best(self) -> dict[str, float]:
        """Per candidate name ("raw", "ema", ...): the best validation score so far."""

    @property
    def best_epoch(self) -> dict[str, int]:
        """Per candidate name: the epoch of its best score."""

    @property
    def stop(self) -> bool:
        """Whether this fold ends after this epoch."""

    def request_stop(self, reason: str, run: bool = False, discard: bool = False) -> None: ...


class Callback:
    """Lifecycle events a trick can react to. Subclass and override what you need; every event
    gets the fold's state, a `FoldState`.

    The real order of events in a fold (each process calls every callback):

        on_fold_start
        for each epoch:
            on_epoch_start
            for each batch:  on_batch (may add batch.extras) -> batch transforms -> forward, loss,
                             backward -> on an update: lr_factor per group, optimizer step,
                             after_optimizer_step
            evaluation: the raw weights and every `eval_models` candidate score the validation
                        set; state.metrics is filled (val_score, val_score_NAME, ...)
            on_epoch_end     (request a stop here: state.request_stop(...))
            checkpoint (state_dict of every callback)
        the best candidate's weights predict OOF, test and holdout

    `eval_models` maps a name (a lowercase word: it becomes `best_NAME.safetensors`, the log key
    `val_score_NAME` and the `best_weights` value) to a module with the model's architecture; it
    must return the same module objects every time it is called in a fold, since the best
    weights are loaded back into them for prediction. `state_dict`/`load_state_dict` make a trick
    resumable: the core saves every callback's state_dict at each checkpoint and restores it.
    """

    def on_fold_start(self, state: FoldState) -> None: ...

    def on_epoch_start(self, state: FoldState) -> None: ...

    def on_batch(self, state: FoldState, batch: Batch) -> Batch:
        """Before the batch transforms: add per-sample extras (looked up by `batch.index`)."""
        return batch

    def after_optimizer_step(self, state: FoldState) -> None: ...

    def on_epoch_end(self, state: FoldState) -> None: ...

    def eval_models(self, state: FoldState) -> dict[str, nn.Module]:
        return {}

    def lr_factor(self, state: FoldState, group: str) -> float:
        """Multiplier on the learning rate of parameter group `group` ("backbone" or "head")."""
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
