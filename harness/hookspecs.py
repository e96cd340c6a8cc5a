"""Every hook a plugin can implement. Built-in tricks use exactly these, as third parties do.

Component hooks return lists of small frozen dataclasses (`harness.specs`). A recipe selects
components by name, so the recipe, not registration order, decides what runs and in what order.
A name is unique within its kind: a built-in keeps its name against a third-party component (which
is left out with a warning), and two third-party plugins offering one name is an error naming both.

A plugin is any module or object with `@hookimpl` functions, registered through the entry-point
group `harness`:

    [project.entry-points.harness]
    my_tricks = "my_tricks.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from harness.specs import Component, MetricSpec, ModelSpec

PROJECT = "harness"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def harness_models() -> list[ModelSpec]:
    """Model sources, selected by `model.source`. `build(model_config, num_classes)` returns an
    `nn.Module` that maps (N, 3, H, W) images to (N, num_classes) logits.

    Example: `ModelSpec("timm", build=lambda cfg, n: timm.create_model(cfg.name, num_classes=n))`.
    """


@hookspec
def harness_sample_transforms() -> list[Component]:
    """Per-sample augmentation pipelines, selected by `augment.name`.
    `build(options, context, train: bool)` returns a `SampleTransform` (uint8 CHW -> float CHW).
    Optional: the options define `min_crop_area() -> float`, the smallest share of an image's area
    one training crop covers; the run then warns when the image cache stores too few pixels for it.

    Example: `Component("standard", build=make_pipeline, options=StandardOptions)`.
    """


@hookspec
def harness_batch_transforms() -> list[Component]:
    """Per-batch transforms such as CutMix, enabled by a `[batch_transforms.NAME]` table.
    `build(options, context)` returns a `BatchTransform` that yields soft targets.

    Example: `Component("mixup_cutmix", build=MixupCutmix.from_options, options=MixupOptions)`.
    """


@hookspec
def harness_losses() -> list[Component]:
    """Losses, selected by `loss.name`. `build(options, context)` returns a `Loss` that accepts
    hard (N,) or soft (N, C) targets.

    Example: `Component("cross_entropy", build=make_ce, options=CEOptions)`.
    """


@hookspec
def harness_samplers() -> list[Component]:
    """Training samplers, selected by `sampler.name`. `build(options, context)` returns a
    `torch.utils.data.Sampler` with `set_epoch(epoch)`; it yields one global draw that
    Accelerate shards across processes.

    Example: `Component("class_balanced", build=ClassBalancedSampler.from_options, options=...)`.
    """


@hookspec
def harness_schedulers() -> list[Component]:
    """Learning-rate schedules, selected by `scheduler.name`. `build(options, context)` returns a
    `Schedule` whose `factor(update)` multiplies the base learning rate.

    Example: `Component("warmup_cosine", build=WarmupCosine.from_options, options=...)`.
    """


@hookspec
def harness_tta_views() -> list[Component]:
    """Predict-time views, listed in `tta.views`. `build(options, context)` returns a list of
    `TTAView` (one component may give several, as five-crop does).

    Example: `Component("hflip", build=lambda o, c: [TTAView("hflip", lambda x: x.flip(-1))])`.
    """


@hookspec
def harness_ensemblers() -> list[Component]:
    """Ensemblers that combine folds, TTA views and runs: selected by `ensemble.name` in a recipe
    (views and folds of a run) and by `harness ensemble --method NAME` (runs). `build(options,
    context)` returns an `Ensembler`: `(probs, weights) -> probs`, float (N, C) arrays on the host
    whose rows sum to 1 (`harness.specs.Ensembler`); `context` is None outside a training fold.
    One that also has `fit(probs, y, metric) -> EnsembleFit` is a `FittingEnsembler`: it learns its
    weights from OOF rows. One built as a `harness.specs.Pooled` (a mean or a geometric mean of each
    row alone) is pooled the same way inside `harness export`'s graph; the graph takes the mean of
    any other. `options` are set by `harness ensemble --option KEY=VALUE`.

    Example: `Component("mean", build=lambda o, c: mean_probs)`, or
    `Component("hill_climb", build=HillClimb.from_options, options=HillClimbOptions)`.
    """


@hookspec
def harness_callbacks() -> list[Component]:
    """Lifecycle tricks (EMA, early stopping, freezing), enabled by a `[callbacks.NAME]` table and
    run in recipe order. `build(options, context)` returns a `harness.specs.Callback`.

    Example: `Component("ema", build=ModelEma.from_options, options=EmaOptions)`.
    """


@hookspec
def harness_metrics() -> list[MetricSpec]:
    """Competition metrics, selected by `cv.metric` (and by a leaderboard competition). Each
    `MetricSpec(name, fn, higher_is_better, needs_probs)` scores int labels (N,) against class
    probabilities (N, C): the OOF, the holdout, ensembles and submissions all go through it.

    Example: `MetricSpec("accuracy", lambda y, p: float((p.argmax(1) == y).mean()), True, False)`.
    """
