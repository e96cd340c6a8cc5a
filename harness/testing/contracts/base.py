"""The helpers every contract class uses, and their shared base class."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from harness import kinds
from harness.config.typed import from_dict
from harness.plugin_manager import Plugins, load_plugins
from harness.specs import Batch, BuildContext


def context(num_classes: int = 4, n: int = 64, metric: str = "accuracy", **overrides: Any) -> BuildContext:
    """A BuildContext for a small fold: `n` samples spread over `num_classes` classes, validated
    on the built-in `metric`."""
    labels = np.arange(n) % num_classes
    values: dict[str, Any] = dict(
        num_classes=num_classes, labels=labels, seed=0, epochs=4, steps_per_epoch=10, batch_size=8,
        world_size=1, base_lr=1e-3, image_size=16, metric=_plugins(()).metric(metric),
    )
    values.update(overrides)
    return BuildContext(**values)


@cache
def _plugins(extra: tuple[object, ...]) -> Plugins:
    return load_plugins(extra=extra)


def build_component(kind: str, name: str, options: Mapping[str, Any] | None = None, ctx: BuildContext | None = None,
                    *, plugins: Sequence[object] = (), train: bool = True) -> Any:
    """Build component `name` of `kind` ('loss', 'losses', 'tta_view', ...) from recipe keys, as a run
    would: a `Loss`, a `BatchTransform`, a sampler, a `Schedule`, a list of `TTAView`, an `Ensembler`,
    a `Callback`, a sample transform (`train` chooses which), a model (`options` are [model] keys,
    `ctx.num_classes` its classes) or a `MetricSpec`. `ctx` defaults to `context()`; `plugins` are
    registered besides the installed ones."""
    from harness.config.options import option_prefix

    found_kind = kinds.kind_of(kind)
    spec = _plugins(tuple(plugins)).get(found_kind.name, name)
    ctx = ctx or context()
    options = dict(options or {})
    how = found_kind.build_args
    if how == "model":
        from harness.config.schema import ModelConfig

        return spec.build(from_dict(ModelConfig, {"source": name, **options}, "model"), ctx.num_classes)
    if how == "spec":
        if options:
            raise ValueError(f"{found_kind.singular} {name!r} takes no options")
        return spec
    opts = from_dict(spec.options, options, option_prefix(found_kind.name, name) or name)
    if how == "fold_train":
        return spec.build(opts, ctx, train)
    if how == "anywhere":
        return spec.build(opts, None)  # as `harness ensemble` and `harness predict` build them, outside any fold
    return spec.build(opts, ctx)


def batch(target: torch.Tensor, **extras: torch.Tensor) -> Batch:
    """A training batch around `target` (images are zeros; indices 0..N-1)."""
    n = len(target)
    return Batch(torch.zeros(n, 3, 8, 8), target, torch.arange(n), dict(extras))


def probabilities(n: int, c: int, seed: int = 0) -> torch.Tensor:
    """float32 (n, c) rows of random probabilities summing to 1."""
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, c, generator=g) * 2, dim=1)


def through_checkpoint(state: Any) -> Any:
    """`state` after torch.save and torch.load(weights_only=True), as a checkpoint stores it."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@contextmanager
def fresh_cwd() -> Iterator[Path]:
    """Run the block in a new, empty working directory (removed after), to see what it writes there."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="harness-cwd-") as where:
        os.chdir(where)
        try:
            yield Path(where)
        finally:
            os.chdir(before)


def files_under(folder: Path) -> list[str]:
    """The files below `folder`, as sorted relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def assert_same(a: Any, b: Any, where: str = "state") -> None:
    """Deep equality of state dicts: tensors equal exactly, numbers, strings, lists and dicts alike."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), f"{where}: {type(a)} vs {type(b)}"
        assert a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b), f"{where}: tensors differ"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"  # NaN equals NaN here


class Contract:
    """What every contract class shares: the component it checks (`kind`, `name`, `options`,
    `plugins`) and builders for its context, the component and a batch."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    plugins: ClassVar[tuple[object, ...]] = ()
    extras: ClassVar[tuple[str, ...]] = ()
    num_classes: ClassVar[int] = 4
    image_size: ClassVar[int] = 16

    def context(self, **overrides: Any) -> BuildContext:
        return context(self.num_classes, image_size=self.image_size, **overrides)

    def test_plugin_loads_in_full(self) -> None:
        """The plugin that offers the component, and each of `plugins`, loads without a problem: a
        misspelled hook, which loading only warns about, fails here with the warning's text."""
        kind, plugins = kinds.kind_of(self.kind).name, _plugins(tuple(self.plugins))
        mine = {plugins.pm.get_name(p) if plugins.pm.is_registered(p) else getattr(p, "__name__", type(p).__name__)
                for p in self.plugins}
        if self.name in plugins.of_kind(kind):
            mine.add(plugins.owner(kind, self.name))
        problems = [p.text for p in plugins.problems if p.plugin in mine]
        assert not problems, "; ".join(problems)

    def build(self, ctx: BuildContext | None = None, **kw: Any) -> Any:
        return build_component(self.kind, self.name, self.options, ctx or self.context(), plugins=self.plugins, **kw)

    def make_extras(self, n: int, num_classes: int) -> dict[str, torch.Tensor]:
        """The per-sample extras a batch carries for this component: by default each name of
        `extras` as float (n, num_classes) probabilities."""
        return {key: probabilities(n, num_classes, seed=k + 1) for k, key in enumerate(self.extras)}

    def batch(self, target: torch.Tensor, images: torch.Tensor | None = None) -> Batch:
        n = len(target)
        if images is None:
            images = torch.randn(n, 3, self.image_size, self.image_size, generator=torch.Generator().manual_seed(n))
        return Batch(images, target, torch.arange(n), self.make_extras(n, self.num_classes))
