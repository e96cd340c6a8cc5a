"""`harness plugin new`: the files of a new plugin package, one small working trick per kind of
component, each with its contract tests. The templates are also the examples of docs/hooks.md.

A package for NAME `random-erasing` is the folder `harness-random-erasing/` holding
`pyproject.toml` (the entry point), `harness_random_erasing/__init__.py` (the trick, its options
with a comment per field, and the `@hookimpl` at the bottom), `tests/test_random_erasing.py` (the
contract class of its kind, plus one property test) and `README.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

# kind -> (hook, contract class, recipe example, module template, extra test)
LOSS = '''"""__TITLE__.

Poly-1 loss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification
Loss Functions", ICLR 2022): cross-entropy plus epsilon * (1 - p_t), where p_t is the probability
of the target. Replace the math with yours; keep the options, build and hook shapes.

    [loss]
    name = "__NAME__"
    epsilon = 1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TargetLoss, target_loss


@dataclass(frozen=True)
class __CLASS__Options:
    epsilon: float = 1.0  # weight of the (1 - p_t) term; 0 is plain cross-entropy

    def validate(self, where: str) -> None:
        require(self.epsilon >= -1.0, f"{where}.epsilon", "must be >= -1")


def poly1(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Batch mean of CE + epsilon * (1 - p_t); `target` is int (N,) or soft float (N, C)."""
    logp = F.log_softmax(logits.float(), dim=-1)  # float32 whatever the autocast dtype
    if target.ndim == 1:
        target = F.one_hot(target, logits.shape[-1]).float()
    ce = -(target * logp).sum(-1)
    pt = (target * logp.exp()).sum(-1)
    return (ce + epsilon * (1.0 - pt)).mean()


def build(opts: __CLASS__Options, ctx: BuildContext) -> TargetLoss:
    return target_loss(lambda logits, target: poly1(logits, target, opts.epsilon))


@hookimpl
def harness_losses() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="Poly-1: cross-entropy + epsilon * (1 - p_t)")]
'''
LOSS_TEST = '''

def test_epsilon_zero_is_cross_entropy() -> None:
    logits, target = torch.randn(8, 5), torch.arange(8) % 5
    torch.testing.assert_close(__MODULE__.poly1(logits, target, 0.0), torch.nn.functional.cross_entropy(logits, target))
'''

BATCH_TRANSFORM = '''"""__TITLE__.

Random erasing on the batch (Zhong et al., "Random Erasing Data Augmentation", AAAI
2020): each image, with probability `prob`, gets a random rectangle replaced by noise. It runs on
the device after the loader, before the loss; images are normalized float (N, 3, H, W), so the noise
is standard normal. Randomness comes from the transform's own generator, saved in `state_dict`, so
a resumed run erases exactly the same rectangles.

    [batch_transforms.__NAME__]
    prob = 0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    prob: float = 0.5  # chance per image of erasing a rectangle
    min_area: float = 0.02  # the rectangle's area, as a share of the image, drawn in [min_area, max_area]
    max_area: float = 0.25  # see min_area

    def validate(self, where: str) -> None:
        require(0.0 <= self.prob <= 1.0, f"{where}.prob", "must be in [0, 1]")
        require(0.0 < self.min_area <= self.max_area < 1.0, f"{where}.min_area", "needs 0 < min_area <= max_area < 1")


class __CLASS__:
    def __init__(self, opts: __CLASS__Options, seed: int):
        self.opts = opts
        self.generator = torch.Generator().manual_seed(seed + 104729)  # its own stream, not the model's

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        images = batch.images.clone()
        n, _, h, w = images.shape
        g, o = self.generator, self.opts
        for i in range(n):
            if torch.rand((), generator=g).item() >= o.prob:
                continue
            area = (o.min_area + (o.max_area - o.min_area) * torch.rand((), generator=g).item()) * h * w
            side = max(1, int(math.sqrt(area)))
            eh, ew = min(side, h), min(side, w)
            y = int(torch.randint(0, h - eh + 1, (), generator=g))
            x = int(torch.randint(0, w - ew + 1, (), generator=g))
            noise = torch.randn(images.shape[1], eh, ew, generator=g).to(images.device, images.dtype)
            images[i, :, y : y + eh, x : x + ew] = noise
        return batch.with_(images=images)  # targets, indices and extras stay as they are

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts, ctx.seed)


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="random erasing: a noise rectangle per image")]
'''
BATCH_TRANSFORM_TEST = '''

def test_prob_zero_changes_nothing() -> None:
    from harness.specs import Batch

    t = __MODULE__.__CLASS__(__MODULE__.__CLASS__Options(prob=0.0), seed=0)
    batch = Batch(torch.randn(4, 3, 8, 8), torch.arange(4), torch.arange(4))
    assert torch.equal(t(batch, 0).images, batch.images)
'''

CALLBACK = '''"""__TITLE__.

Stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to Wider Optima
and Better Generalization", UAI 2018): from epoch `start_epoch` on, the weights at the end of each
epoch are averaged; the average is evaluated next to the raw weights as the candidate "swa", and the
core keeps and predicts with whichever scores best. (BatchNorm statistics are averaged as buffers,
not recomputed.)

    [callbacks.__NAME__]
    start_epoch = 5
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Callback, Component


@dataclass(frozen=True)
class __CLASS__Options:
    start_epoch: int = 0  # the first epoch (0-based) whose end-of-epoch weights join the average

    def validate(self, where: str) -> None:
        require(self.start_epoch >= 0, f"{where}.start_epoch", "must be >= 0")


class __CLASS__(Callback):
    def __init__(self, start_epoch: int):
        self.start_epoch = start_epoch
        self.average: nn.Module | None = None
        self.count = 0

    def on_fold_start(self, state: Any) -> None:
        # A copy of the bare model, on its device; the same module all fold (eval_models' rule).
        self.average = copy.deepcopy(state.unwrapped).eval()
        self.count = 0

    def on_epoch_end(self, state: Any) -> None:
        if state.epoch < self.start_epoch or self.average is None:
            return
        self.count += 1
        with torch.no_grad():
            for avg, new in zip(self.average.state_dict().values(), state.unwrapped.state_dict().values(), strict=True):
                if avg.is_floating_point():
                    avg.add_((new - avg) / self.count)  # running mean of the snapshots
                else:
                    avg.copy_(new)

    def eval_models(self, state: Any) -> dict[str, nn.Module]:
        return {} if self.average is None or self.count == 0 else {"swa": self.average}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.average is None else {"count": self.count, "average": self.average.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and self.average is not None:  # the core starts the fold, then restores
            self.count = int(state["count"])
            self.average.load_state_dict(state["average"])


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts.start_epoch)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="stochastic weight averaging, evaluated as 'swa'")]
'''
CALLBACK_TEST = '''

def test_average_of_two_snapshots() -> None:
    from harness.testing import train_state

    state = train_state()
    cb = __MODULE__.__CLASS__(start_epoch=0)
    cb.on_fold_start(state)
    first = state.unwrapped.weight.detach().clone()
    cb.on_epoch_end(state)
    with torch.no_grad():
        state.unwrapped.weight.add_(1.0)
    cb.on_epoch_end(state)
    torch.testing.assert_close(cb.eval_models(state)["swa"].weight, first + 0.5)
'''

SAMPLE_TRANSFORM = '''"""__TITLE__.

A minimal per-sample pipeline (torchvision transforms v2): resize to the training size
and a random horizontal flip for training, the resize alone for evaluation. It runs in the loader
workers on one decoded uint8 (3, H, W) RGB image; randomness comes from torch's global generator,
which the loader seeds per (seed, epoch, sample), so augmentation does not depend on the workers.

    [augment]
    name = "__NAME__"
    hflip = 0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import v2

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    hflip: float = 0.5  # chance of a horizontal flip in training

    def validate(self, where: str) -> None:
        require(0.0 <= self.hflip <= 1.0, f"{where}.hflip", "must be in [0, 1]")


def build(opts: __CLASS__Options, ctx: BuildContext, train: bool) -> v2.Compose:
    steps: list[torch.nn.Module] = [v2.Resize((ctx.image_size, ctx.image_size), antialias=True)]
    if train and opts.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(opts.hflip))
    if ctx.normalize:  # else uint8 leaves the worker and the device normalizes (a GPU)
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(ctx.mean, ctx.std)]
    return v2.Compose(steps)


@hookimpl
def harness_sample_transforms() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="resize and a horizontal flip")]
'''
SAMPLE_TRANSFORM_TEST = '''

def test_hflip_one_always_flips() -> None:
    from harness.testing import context

    image = torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)
    opts = __MODULE__.__CLASS__Options(hflip=1.0)
    train, plain = __MODULE__.build(opts, context(), train=True), __MODULE__.build(opts, context(), train=False)
    torch.testing.assert_close(train(image), plain(image.flip(-1)))
'''

SAMPLER = '''"""__TITLE__.

A random subset of the fold each epoch, without replacement (the "epoch fraction" of
large-data training): shorter epochs, every image still seen over a few of them. The draw is one
global sequence per (seed, epoch), the same on every process, so Accelerate can shard it and a
resumed epoch replays it.

    [sampler]
    name = "__NAME__"
    fraction = 0.5
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Sampler

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component


@dataclass(frozen=True)
class __CLASS__Options:
    fraction: float = 0.5  # share of the fold's images drawn each epoch

    def validate(self, where: str) -> None:
        require(0.0 < self.fraction <= 1.0, f"{where}.fraction", "must be in (0, 1]")


class __CLASS__(Sampler[int]):
    def __init__(self, n: int, fraction: float, seed: int):
        self.n, self.size, self.seed, self.epoch = n, max(1, round(n * fraction)), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[: self.size].tolist())


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(len(ctx.labels), opts.fraction, ctx.seed)


@hookimpl
def harness_samplers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="a random subset of the fold each epoch")]
'''
SAMPLER_TEST = '''

def test_no_repeats_within_an_epoch() -> None:
    draw = list(__MODULE__.__CLASS__(100, 0.3, seed=0))
    assert len(draw) == len(set(draw)) == 30
'''

SCHEDULER = '''"""__TITLE__.

Exponential decay, smooth over updates: the factor is gamma ** (update /
steps_per_epoch), so the learning rate falls by `gamma` every epoch. A pure function of the update
index, so resuming is "jump to update N" and there is no state to save.

    [scheduler]
    name = "__NAME__"
    gamma = 0.9
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, StatelessSchedule


@dataclass(frozen=True)
class __CLASS__Options:
    gamma: float = 0.9  # the factor by which the learning rate falls each epoch

    def validate(self, where: str) -> None:
        require(0.0 < self.gamma <= 1.0, f"{where}.gamma", "must be in (0, 1]")


class __CLASS__(StatelessSchedule):
    def __init__(self, gamma: float, steps_per_epoch: int):
        self.gamma, self.steps = gamma, max(1, steps_per_epoch)

    def factor(self, update: int) -> float:
        return float(self.gamma ** (update / self.steps))


def build(opts: __CLASS__Options, ctx: BuildContext) -> __CLASS__:
    return __CLASS__(opts.gamma, ctx.steps_per_epoch)


@hookimpl
def harness_schedulers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="exponential decay by gamma per epoch")]
'''
SCHEDULER_TEST = '''

def test_one_epoch_is_one_gamma() -> None:
    s = __MODULE__.__CLASS__(0.5, steps_per_epoch=10)
    assert s.factor(0) == 1.0 and abs(s.factor(10) - 0.5) < 1e-12
'''

TTA_VIEW = '''"""__TITLE__.

Shifted views for test-time augmentation: the batch moved `pixels` to the left and
to the right, the edge column repeated. A view maps a normalized float (N, 3, H, W) batch on the
device to one of the same shape; the views' logits are ensembled by `ensemble.name`.

    [tta]
    views = ["identity", "__NAME__"]

    [tta.__NAME__]
    pixels = 2
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, TTAView


@dataclass(frozen=True)
class __CLASS__Options:
    pixels: int = 2  # how far each view moves the image, in pixels

    def validate(self, where: str) -> None:
        require(self.pixels >= 1, f"{where}.pixels", "must be >= 1")


def shift(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """Move a batch (N, C, H, W) right by `pixels` (left when negative), repeating the edge."""
    w = x.shape[-1]
    p = min(abs(pixels), w - 1)
    if p == 0:
        return x
    if pixels > 0:
        return F.pad(x[..., : w - p], (p, 0, 0, 0), mode="replicate")
    return F.pad(x[..., p:], (0, p, 0, 0), mode="replicate")


def build(opts: __CLASS__Options, ctx: BuildContext | None) -> list[TTAView]:
    return [TTAView("__NAME___left", partial(shift, pixels=-opts.pixels)),
            TTAView("__NAME___right", partial(shift, pixels=opts.pixels))]


@hookimpl
def harness_tta_views() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="the image shifted left and right")]
'''
TTA_VIEW_TEST = '''

def test_shift_moves_columns() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5)
    assert __MODULE__.shift(x, 1).flatten().tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]
'''

ENSEMBLER = '''"""__TITLE__.

The weighted power mean of probabilities, (sum_i w_i p_i^k / sum_i w_i)^(1/k) per cell,
rows renormalized. k = 1 is the arithmetic mean; a larger k leans towards the most confident member.
Inputs and output are float (N, C) arrays on the host whose rows sum to 1.

    [ensemble]
    name = "__NAME__"
    power = 2.0

or across runs: harness ensemble runs/a runs/b --out runs/ens --method __NAME__ --option power=2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import BuildContext, Component, Ensembler


@dataclass(frozen=True)
class __CLASS__Options:
    power: float = 2.0  # k of the power mean; 1 is the arithmetic mean

    def validate(self, where: str) -> None:
        require(self.power > 0, f"{where}.power", "must be > 0")


def power_mean(probs: Sequence[np.ndarray], weights: Sequence[float] | None, k: float) -> np.ndarray:
    w = np.ones(len(probs)) if weights is None else np.asarray(weights, dtype=np.float64)
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs])
    out = np.tensordot(w / w.sum(), stack**k, axes=1) ** (1.0 / k)
    return out / out.sum(axis=1, keepdims=True)


def build(opts: __CLASS__Options, ctx: BuildContext | None) -> Ensembler:
    # ctx is None when `harness ensemble` combines runs; an ensembler must not need it
    def ensemble(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        return power_mean(probs, weights, opts.power)

    return ensemble


@hookimpl
def harness_ensemblers() -> list[Component]:
    return [Component("__NAME__", build, __CLASS__Options, doc="weighted power mean of probabilities")]
'''
ENSEMBLER_TEST = '''

def test_power_one_is_the_mean() -> None:
    a, b = np.array([[0.2, 0.8]]), np.array([[0.6, 0.4]])
    np.testing.assert_allclose(__MODULE__.power_mean([a, b], None, 1.0), [[0.4, 0.6]])
'''

METRIC = '''"""__TITLE__.

Top-2 accuracy, the share of samples whose label is among the two most probable
classes (the top-k accuracy of ImageNet reports, Russakovsky et al. 2015). It reads probabilities,
so a label-only submission scores as plain accuracy.

    [cv]
    metric = "__NAME__"
"""

from __future__ import annotations

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import MetricSpec


def top2_accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """`y`: int labels (N,); `probs`: float (N, C), rows summing to 1."""
    top = np.argsort(-probs, axis=1)[:, :2]
    return float((top == np.asarray(y)[:, None]).any(axis=1).mean())


@hookimpl
def harness_metrics() -> list[MetricSpec]:
    return [MetricSpec("__NAME__", top2_accuracy, higher_is_better=True, needs_probs=True,
                       doc="the label among the two most probable classes")]
'''
METRIC_TEST = '''

def test_second_choice_counts() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert __MODULE__.top2_accuracy(np.array([1, 0]), probs) == 0.5
'''

MODEL = '''"""__TITLE__.

A small convolutional network (two conv-BN-ReLU stages, global average pooling, a
linear head), a model source selected by `model.source`. `build(model_config, num_classes)` gets the
[model] section (name, drop_rate, ...) and returns an nn.Module mapping float (N, 3, H, W) images
to (N, num_classes) logits.

    [model]
    source = "__NAME__"
    drop_rate = 0.1
"""

from __future__ import annotations

import torch
from torch import nn

from harness.config.schema import ModelConfig
from harness.hookspecs import hookimpl
from harness.specs import ModelSpec


class __CLASS__(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, drop_rate: float = 0.0):
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.features = nn.Sequential(stage(3, width), nn.MaxPool2d(2), stage(width, 2 * width))
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(2 * width, num_classes)

    def get_classifier(self) -> nn.Module:  # the "head" parameter group (optimizer, freeze_backbone)
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x).mean((2, 3))))


def build(cfg: ModelConfig, num_classes: int) -> nn.Module:
    return __CLASS__(num_classes, drop_rate=cfg.drop_rate)


@hookimpl
def harness_models() -> list[ModelSpec]:
    return [ModelSpec("__NAME__", build, doc="a small two-stage CNN")]
'''
MODEL_TEST = '''

def test_any_image_size() -> None:
    model = __MODULE__.__CLASS__(3).eval()
    assert model(torch.randn(2, 3, 20, 28)).shape == (2, 3)
'''


@dataclass(frozen=True)
class Template:
    hook: str
    contract: str
    module: str
    test: str
    test_imports: str  # what the extra test needs


TEMPLATES: dict[str, Template] = {
    "loss": Template("harness_losses", "LossContract", LOSS, LOSS_TEST, "import torch"),
    "batch_transform": Template("harness_batch_transforms", "BatchTransformContract", BATCH_TRANSFORM,
                                BATCH_TRANSFORM_TEST, "import torch"),
    "callback": Template("harness_callbacks", "CallbackContract", CALLBACK, CALLBACK_TEST, "import torch"),
    "sample_transform": Template("harness_sample_transforms", "SampleTransformContract", SAMPLE_TRANSFORM,
                                 SAMPLE_TRANSFORM_TEST, "import torch"),
    "sampler": Template("harness_samplers", "SamplerContract", SAMPLER, SAMPLER_TEST, ""),
    "scheduler": Template("harness_schedulers", "ScheduleContract", SCHEDULER, SCHEDULER_TEST, ""),
    "tta_view": Template("harness_tta_views", "TTAViewContract", TTA_VIEW, TTA_VIEW_TEST, "import torch"),
    "ensembler": Template("harness_ensemblers", "EnsemblerContract", ENSEMBLER, ENSEMBLER_TEST, "import numpy as np"),
    "metric": Template("harness_metrics", "MetricContract", METRIC, METRIC_TEST, "import numpy as np"),
    "model": Template("harness_models", "ModelContract", MODEL, MODEL_TEST, "import torch"),
}

TEST = '''"""Contract tests: the checks harness runs on every __KIND__ (`harness.testing.__CONTRACT__`),
and a property of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

__IMPORTS__
from harness.testing import __CONTRACT__

import __MODULE__


class Test__CLASS__(__CONTRACT__):
    name = "__NAME__"
    options: ClassVar[dict[str, Any]] = {}  # recipe keys, as a recipe would set them
    plugins = (__MODULE__,)  # this package as it is here, installed or not
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A harness plugin: the __KIND__ `__NAME__`."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["harness"]

# This line is the whole integration: harness loads every module in the `harness` group.
[project.entry-points.harness]
__NAME__ = "__MODULE__"

[tool.setuptools]
packages = ["__MODULE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''

README = '''# __DIST__: a harness plugin

The __KIND__ `__NAME__` for [harness](https://github.com/), as a package of its own. The whole
integration is one entry point in `pyproject.toml`:

```toml
[project.entry-points.harness]
__NAME__ = "__MODULE__"
```

`__MODULE__/__init__.py` holds the trick (the math first), its options dataclass (the recipe keys:
the comment after each field is its documentation, which `harness plugins __NAME__` shows) and, at
the bottom, the `@hookimpl` of `__HOOK__` that offers it. docs/hooks.md of harness documents the
hook, the data format it sees (dtype, range, layout, device) and the lifecycle.

## Use

```bash
pip install -e .
harness plugins __NAME__        # its documentation, how to select it, its options
```

__USAGE__

## Test

```bash
python -m pytest -q             # `__CONTRACT__` from harness.testing: the checks every __KIND__ must pass
```

A plugin that fails to import or misspells a hook is skipped with a one-line warning naming this
package (`harness plugins` shows it); a component named like a built-in is ignored in favour of the
built-in, so pick a name of your own.
'''


@dataclass(frozen=True)
class Scaffolded:
    root: Path
    dist: str
    module: str
    component: str
    files: tuple[Path, ...]


def names(name: str) -> tuple[str, str, str]:
    """(component, module, distribution) of NAME: 'random-erasing' -> ('random_erasing',
    'harness_random_erasing', 'harness-random-erasing')."""
    slug = re.sub(r"^harness[-_]", "", name.strip().lower()).replace("-", "_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise HarnessError(f"plugin name {name!r}: use letters, digits, '-' and '_', starting with a letter "
                           "(such as random-erasing)")
    return slug, f"harness_{slug}", f"harness-{slug.replace('_', '-')}"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return text


def render(name: str, kind: str) -> dict[str, str]:
    """The package's files, relative path -> text."""
    if kind not in TEMPLATES:
        raise HarnessError(f"--kind {kind!r}: choose one of {', '.join(TEMPLATES)}")
    t = TEMPLATES[kind]
    component, module, dist = names(name)
    values = {"TITLE": f"`{component}`, a harness {kind.replace('_', ' ')}", "NAME": component, "MODULE": module,
              "DIST": dist, "CLASS": "".join(w.title() for w in component.split("_")), "KIND": kind.replace("_", " "),
              "CONTRACT": t.contract, "HOOK": t.hook, "IMPORTS": t.test_imports}
    module_text = _fill(t.module, values)
    docstring = module_text.split('"""', 2)[1]
    recipe = [line.removeprefix("    ") for line in docstring.splitlines() if line.startswith("    ") or not line]
    values["USAGE"] = "In a recipe:\n\n```toml\n" + "\n".join(recipe).strip() + "\n```"
    test_text = _fill(TEST + t.test, values)
    if not t.test_imports:
        test_text = test_text.replace("ClassVar\n\n\n", "ClassVar\n\n")
    return {
        "pyproject.toml": _fill(PYPROJECT, values),
        "README.md": _fill(README, values),
        f"{module}/__init__.py": module_text,
        f"tests/test_{component}.py": test_text,
    }


def scaffold(name: str, kind: str, where: Path) -> Scaffolded:
    """Write the package for NAME into WHERE/harness-NAME; an existing folder is an error."""
    component, module, dist = names(name)
    files = render(name, kind)
    root = Path(where) / dist
    if root.exists():
        raise HarnessError(f"{root} already exists; choose another name or --dir")
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return Scaffolded(root, dist, module, component, tuple(written))
