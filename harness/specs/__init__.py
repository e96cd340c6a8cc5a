"""The contracts between the core and its plugins: the small frozen dataclasses plugins return
from the component hooks, and the protocols of what they build and see. One module per concern;
everything is importable from `harness.specs`.

Every component has a `name` (what a recipe writes), an `options` dataclass (the recipe keys it
accepts, typed, with defaults) and a `build` function. The core validates the recipe's section
against `options`, then calls `build(options, context)`.
"""

from __future__ import annotations

from harness.specs.callbacks import Callback, FoldState
from harness.specs.components import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BuildContext,
    Component,
    ModelSettings,
    ModelSpec,
    NoOptions,
    Selection,
)
from harness.specs.data import (
    Batch,
    BatchTransform,
    EpochSampleTransform,
    Loss,
    Sampler,
    SampleTransform,
    Schedule,
    StatelessSchedule,
    TargetLoss,
    TTAView,
    target_loss,
)
from harness.specs.ensemble import (
    POOL_FLOOR,
    EnsembleFit,
    Ensembler,
    FittingEnsembler,
    Pooled,
    PoolKind,
    normalized_weights,
)
from harness.specs.metric import MetricSpec

__all__ = [
    "Batch",
    "BatchTransform",
    "BuildContext",
    "Callback",
    "Component",
    "EnsembleFit",
    "Ensembler",
    "EpochSampleTransform",
    "FittingEnsembler",
    "FoldState",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Loss",
    "MetricSpec",
    "ModelSettings",
    "ModelSpec",
    "NoOptions",
    "POOL_FLOOR",
    "normalized_weights",
    "PoolKind",
    "Pooled",
    "SampleTransform",
    "Sampler",
    "Schedule",
    "Selection",
    "StatelessSchedule",
    "TTAView",
    "TargetLoss",
    "target_loss",
]
