"""The kinds of component, defined once: each kind's hook, the recipe section that selects it,
its names, its contract class and its `harness plugin new` template. The plugin manager, the
recipe reader, the contract kit, the scaffold, the docs generator and the tests all read this
table; none keeps its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.errors import HarnessError, suggest

# How a recipe selects a kind: "key" names one component in a key of a core section (model.source,
# cv.metric); "one" names one in its own section ([loss] name = ...); "many" enables any number as
# [section.NAME] tables; "views" lists them in tta.views.
Selects = Literal["key", "one", "many", "views"]
# What `build` takes besides the options: "model" (the [model] section and the class count, no
# options dataclass), "spec" (nothing: the spec is the component), "fold" (the fold's
# BuildContext; a TTA view's may be None at prediction), "fold_train" (the context and whether it
# is for training), "anywhere" (None: built outside any fold, as `harness ensemble` does).
BuildArgs = Literal["model", "spec", "fold", "fold_train", "anywhere"]


@dataclass(frozen=True)
class Kind:
    name: str  # plural, as `harness plugins KIND:` and Plugins key it: "losses"
    singular: str  # in messages: "loss", "tta view"
    section: str  # the recipe key or section that selects it: "loss", "model.source", "callbacks"
    selects: Selects
    default: str  # the component a recipe gets when it names none ("" when there is none)
    build_args: BuildArgs
    build: str  # the build signature, for docs/hooks.md
    types: tuple[str, ...]  # the harness.specs names that describe what build returns and sees
    contract: str  # the harness.testing contract class a component of this kind passes
    template: str  # `harness plugin new --kind` (the singular with underscores)
    example: str  # the component the template scaffolds
    aliases: tuple[str, ...] = ()  # other words a user may type for the kind

    @property
    def hook(self) -> str:
        return f"harness_{self.name}"


KINDS: tuple[Kind, ...] = (
    Kind("models", "model", "model.source", "key", "timm", "model",
         "build(model_config: ModelSettings, num_classes: int) -> nn.Module", ("ModelSpec", "ModelSettings"),
         "ModelContract", "model", "small_cnn", ("model",)),
    Kind("sample_transforms", "sample transform", "augment", "one", "standard", "fold_train",
         "build(options, context: BuildContext, train: bool) -> SampleTransform", ("SampleTransform",),
         "SampleTransformContract", "sample_transform", "resize_flip", ("augment",)),
    Kind("batch_transforms", "batch transform", "batch_transforms", "many", "", "fold",
         "build(options, context: BuildContext) -> BatchTransform", ("BatchTransform", "Batch"),
         "BatchTransformContract", "batch_transform", "random_erasing"),
    Kind("losses", "loss", "loss", "one", "cross_entropy", "fold", "build(options, context: BuildContext) -> Loss",
         ("Loss", "TargetLoss", "Batch"), "LossContract", "loss", "poly1"),
    Kind("samplers", "sampler", "sampler", "one", "instance", "fold", "build(options, context: BuildContext) -> Sampler",
         ("Sampler",), "SamplerContract", "sampler", "epoch_subset"),
    Kind("schedulers", "scheduler", "scheduler", "one", "constant", "fold",
         "build(options, context: BuildContext) -> Schedule", ("Schedule", "StatelessSchedule"), "ScheduleContract",
         "scheduler", "exp_decay", ("schedule",)),
    Kind("tta_views", "tta view", "tta", "views", "identity", "fold",
         "build(options, context: BuildContext | None) -> list[TTAView]", ("TTAView",), "TTAViewContract", "tta_view",
         "shift", ("tta",)),
    Kind("ensemblers", "ensembler", "ensemble", "one", "mean", "anywhere",
         "build(options, context: BuildContext | None) -> Ensembler", ("Ensembler", "FittingEnsembler", "EnsembleFit"),
         "EnsemblerContract", "ensembler", "power_mean", ("ensemble",)),
    Kind("callbacks", "callback", "callbacks", "many", "", "fold", "build(options, context: BuildContext) -> Callback",
         ("Callback", "FoldState"), "CallbackContract", "callback", "swa"),
    Kind("metrics", "metric", "cv.metric", "key", "accuracy", "spec",
         "none: the MetricSpec is the metric, `fn(y_true, probs) -> float`", ("MetricSpec",), "MetricContract",
         "metric", "top2_accuracy", ("metric",)),
)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def kind_of(text: str) -> Kind:
    """The kind named by `text`: plural or singular, with `_`, `-` or a space ('loss', 'tta-view',
    'batch_transforms'), or a word for the recipe section that selects it ('augment', 'scheduler')."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    for kind in KINDS:
        if key in (kind.name, kind.template, *kind.aliases):
            return kind
    raise HarnessError(f"unknown component kind {text!r}{suggest(key, NAMES)}; kinds: {', '.join(NAMES)}")


def recipe_sections(selects: Selects) -> dict[str, Kind]:
    """Recipe section -> kind, for the kinds a recipe selects that way, in the table's order."""
    return {k.section: k for k in KINDS if k.selects == selects}
