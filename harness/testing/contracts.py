"""Contract test classes, one per kind of component (as optuna's `BasicSamplerTestCase`): subclass
one, set `name` (and `options`, the recipe keys), and pytest runs the checks that every component
of that kind must pass, built through the real plugin manager:

    import harness_random_erasing
    from harness.testing import BatchTransformContract

    class TestRandomErasing(BatchTransformContract):
        name = "random_erasing"
        options = {"prob": 0.5}
        plugins = (harness_random_erasing,)   # not needed once the package is installed

Class attributes: `name`; `options` (the component's recipe keys; for a model, [model] keys);
`plugins` (plugin objects or modules to register besides the installed ones); `extras` (names of
per-sample extras the component reads from `batch.extras`: each is filled with float (N, C)
probabilities whose rows sum to 1; override `make_extras` for other contents); `recipe` (recipe
data for the `TrainState` a callback sees, such as `{"cv": {"metric": "log_loss"}}`);
`num_classes` and `image_size` of the small fold the checks build for.

`build_component(kind, name, options)` builds any component the same way, for your own tests.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from harness.config.typed import from_dict
from harness.plugin_manager import Plugins, kind_of, load_plugins
from harness.specs import Batch, BuildContext, EnsembleFit, FittingEnsembler, MetricSpec, TTAView


def context(num_classes: int = 4, n: int = 64, **overrides: Any) -> BuildContext:
    """A BuildContext for a small fold: `n` samples spread over `num_classes` classes."""
    labels = np.arange(n) % num_classes
    values: dict[str, Any] = dict(
        num_classes=num_classes, labels=labels, seed=0, epochs=4, steps_per_epoch=10, batch_size=8,
        world_size=1, base_lr=1e-3, image_size=16,
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

    kind = kind_of(kind)
    found = _plugins(tuple(plugins))
    spec = found.get(kind, name)
    ctx = ctx or context()
    options = dict(options or {})
    if kind == "models":
        from harness.config.schema import ModelConfig

        return spec.build(from_dict(ModelConfig, {"source": name, **options}, "model"), ctx.num_classes)
    if kind == "metrics":
        if options:
            raise ValueError(f"metric {name!r} takes no options")
        return spec
    opts = from_dict(spec.options, options, option_prefix(kind, name) or name)
    if kind == "sample_transforms":
        return spec.build(opts, ctx, train)
    if kind == "ensemblers":
        return spec.build(opts, None)  # `harness ensemble` builds them outside any fold
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


class _Contract:
    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    plugins: ClassVar[tuple[object, ...]] = ()
    extras: ClassVar[tuple[str, ...]] = ()
    num_classes: ClassVar[int] = 4
    image_size: ClassVar[int] = 16

    def context(self, **overrides: Any) -> BuildContext:
        return context(self.num_classes, image_size=self.image_size, **overrides)

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


class ModelContract(_Contract):
    """A model maps float (N, 3, H, W) images to (N, num_classes) logits, learns, and saves and
    loads its weights by state dict. `options` are [model] keys, such as `{"name": "resnet18"}`."""

    kind = "models"
    image_size = 32

    def images(self, n: int = 2) -> torch.Tensor:
        return torch.randn(n, 3, self.image_size, self.image_size, generator=torch.Generator().manual_seed(0))

    def test_logits_shape_and_finite(self) -> None:
        model = self.build().eval()
        with torch.no_grad():
            logits = model(self.images())
        assert isinstance(model, nn.Module)
        assert logits.shape == (2, self.num_classes) and logits.is_floating_point()
        assert torch.isfinite(logits).all()

    def test_gradients_reach_the_weights(self) -> None:
        model = self.build().train()
        model(self.images(4)).logsumexp(1).mean().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)

    def test_state_dict_round_trips(self) -> None:
        torch.manual_seed(0)
        a = self.build().eval()
        torch.manual_seed(1)
        b = self.build().eval()
        b.load_state_dict(through_checkpoint(a.state_dict()))
        with torch.no_grad():
            torch.testing.assert_close(a(self.images()), b(self.images()))


class SampleTransformContract(_Contract):
    """A sample transform maps one decoded uint8 (3, H, W) RGB image of any size to (3, S, S), S =
    `context.image_size`: float32 normalized with `context.mean`/`std` when `context.normalize`, else
    uint8 (the device normalizes) or float. Randomness must come from torch's global CPU generator,
    which the loader seeds per (seed, epoch, sample)."""

    kind = "sample_transforms"

    def image(self, h: int = 40, w: int = 30) -> torch.Tensor:
        return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    def test_output_size_and_dtype(self) -> None:
        s = self.image_size
        for train in (True, False):
            for h, w in ((40, 30), (s, s), (s // 2, s * 3)):
                out = self.build(train=train)(self.image(h, w))
                assert out.shape == (3, s, s), f"train={train}, input {(h, w)}: {tuple(out.shape)}"
                assert out.dtype == torch.float32 and torch.isfinite(out).all()

    def test_uint8_allowed_without_normalization(self) -> None:
        out = self.build(self.context(normalize=False))(self.image())
        assert out.shape == (3, self.image_size, self.image_size)
        assert out.dtype in (torch.uint8, torch.float32)

    def test_seeded_by_the_global_generator(self) -> None:
        tf = self.build(train=True)
        torch.manual_seed(5)
        a = tf(self.image())
        torch.manual_seed(5)
        torch.testing.assert_close(tf(self.image()), a)

    def test_eval_is_deterministic(self) -> None:
        tf = self.build(train=False)
        torch.manual_seed(0)
        a = tf(self.image())
        torch.manual_seed(1)
        torch.testing.assert_close(tf(self.image()), a)


class BatchTransformContract(_Contract):
    """A batch transform `(batch, epoch) -> batch` keeps the images' shape, dtype and device and the
    indices; the target stays int64 (N,) or becomes float (N, C) rows summing to 1; extras keep N
    rows; a transform with `state_dict` resumes exactly."""

    kind = "batch_transforms"

    def _check(self, before: Batch, after: Batch) -> None:
        n, c = len(before), self.num_classes
        assert isinstance(after, Batch)
        assert after.images.shape == before.images.shape and after.images.dtype == before.images.dtype
        assert after.images.device == before.images.device and torch.isfinite(after.images).all()
        assert torch.equal(after.index, before.index)
        if after.target.ndim == 1:
            assert after.target.dtype == torch.int64 and after.target.shape == (n,)
        else:
            assert after.target.shape == (n, c) and after.target.is_floating_point()
            assert (after.target >= 0).all()
            torch.testing.assert_close(after.target.sum(1), torch.ones(n), atol=1e-5, rtol=0)
        assert set(after.extras) >= set(before.extras)
        for key, value in after.extras.items():
            assert value.shape[0] == n, f"extras[{key!r}] has {value.shape[0]} rows for {n} samples"

    def test_batch_keeps_its_format(self) -> None:
        t = self.build()
        for n in (8, 5, 1):  # odd batches and a batch of one happen at the end of an epoch
            hard = self.batch(torch.arange(n) % self.num_classes)
            self._check(hard, t(hard, 0))
        soft = self.batch(probabilities(6, self.num_classes))
        self._check(soft, t(soft, 1))

    def test_every_epoch(self) -> None:
        t, ctx = self.build(), self.context()
        for epoch in range(ctx.epochs):
            b = self.batch(torch.arange(6) % self.num_classes)
            self._check(b, t(b, epoch))

    def test_state_round_trips(self) -> None:
        a = self.build()
        if not hasattr(a, "state_dict"):
            return
        b = self.batch(torch.arange(8) % self.num_classes)
        a(b, 0)
        saved = through_checkpoint(a.state_dict())
        again = self.build()
        again.load_state_dict(saved)
        x, y = a(b, 0), again(b, 0)
        torch.testing.assert_close(x.images, y.images)
        torch.testing.assert_close(x.target, y.target)


class LossContract(_Contract):
    """Losses are called as `loss(logits, batch)`: logits (N, C) in the autocast dtype, the target
    int64 (N,) or float (N, C); a finite scalar that a hard target and its one-hot give alike."""

    kind = "losses"

    def test_scalar_and_finite(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        value = loss(torch.randn(8, self.num_classes), self.batch(torch.randint(0, self.num_classes, (8,))))
        assert value.ndim == 0 and value.is_floating_point() and torch.isfinite(value)

    def test_hard_equals_one_hot(self) -> None:
        loss = self.build()
        torch.manual_seed(0)
        logits, target = torch.randn(8, self.num_classes), torch.randint(0, self.num_classes, (8,))
        soft = nn.functional.one_hot(target, self.num_classes).float()
        torch.testing.assert_close(loss(logits, self.batch(target)), loss(logits, self.batch(soft)), rtol=1e-5, atol=1e-6)

    def test_soft_targets(self) -> None:
        value = self.build()(torch.randn(8, self.num_classes), self.batch(probabilities(8, self.num_classes)))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_low_precision_logits(self) -> None:
        logits = torch.randn(8, self.num_classes).bfloat16()
        value = self.build()(logits, self.batch(torch.arange(8) % self.num_classes))
        assert value.ndim == 0 and torch.isfinite(value)

    def test_gradient_flows(self) -> None:
        logits = torch.randn(8, self.num_classes, requires_grad=True)
        self.build()(logits, self.batch(torch.randint(0, self.num_classes, (8,)))).backward()
        assert logits.grad is not None and torch.isfinite(logits.grad).all()


class SamplerContract(_Contract):
    """A sampler yields int positions in [0, len(context.labels)), one global draw per epoch that
    depends only on (seed, epoch): a resumed epoch replays it."""

    kind = "samplers"

    def test_indices_in_range_and_deterministic(self) -> None:
        ctx = self.context()
        a, b = self.build(ctx), self.build(ctx)
        a.set_epoch(3)
        b.set_epoch(3)
        draw = list(a)
        assert draw == list(b)
        assert all(isinstance(i, int) and 0 <= i < len(ctx.labels) for i in draw)
        assert len(draw) == len(a)

    def test_an_epoch_replays(self) -> None:
        s = self.build()
        s.set_epoch(1)
        first = list(s)
        s.set_epoch(2)
        list(s)
        s.set_epoch(1)
        assert list(s) == first


class ScheduleContract(_Contract):
    """A schedule's `factor(update)` is finite and >= 0 at every update, and its state (if any)
    round-trips through a checkpoint."""

    kind = "schedulers"

    def test_factors_finite_and_state_round_trips(self) -> None:
        ctx = self.context()
        sched = self.build(ctx)
        factors = [sched.factor(u) for u in range(ctx.total_steps + 1)]
        assert all(np.isfinite(f) and f >= 0 for f in factors)
        for metric in (0.5, 0.4, 0.4, 0.3):
            sched.on_epoch_end(metric)
        again = self.build(ctx)
        again.load_state_dict(through_checkpoint(sched.state_dict()))
        assert [again.factor(u) for u in range(ctx.total_steps)] == [sched.factor(u) for u in range(ctx.total_steps)]


SchedulerContract = ScheduleContract


class TTAViewContract(_Contract):
    """A TTA component gives one or more `TTAView`s with distinct names; each maps a normalized float
    (N, C, H, W) batch on the device to one of the same shape and dtype, deterministically."""

    kind = "tta_views"

    def test_views_keep_shape_and_dtype(self) -> None:
        views = self.build()
        assert isinstance(views, list) and views and all(isinstance(v, TTAView) for v in views)
        names = [v.name for v in views]
        assert all(names) and len(set(names)) == len(names), names
        x = torch.randn(3, 3, self.image_size, self.image_size, generator=torch.Generator().manual_seed(0))
        for v in views:
            out = v.apply(x)
            assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all(), v.name
            torch.testing.assert_close(v.apply(x), out)

    def test_channels_last_input(self) -> None:
        x = torch.randn(2, 3, self.image_size, self.image_size).contiguous(memory_format=torch.channels_last)
        for v in self.build():
            assert v.apply(x).shape == x.shape, v.name


class EnsemblerContract(_Contract):
    """An ensembler combines float (N, C) probability matrices (rows sum to 1) into one float (N, C)
    whose rows sum to 1, with or without weights; one with `fit` returns one weight per matrix."""

    kind = "ensemblers"

    def members(self, m: int = 3, n: int = 20) -> list[np.ndarray]:
        return [probabilities(n, self.num_classes, seed=k).double().numpy() for k in range(m)]

    def _check(self, out: np.ndarray, n: int) -> None:
        assert out.shape == (n, self.num_classes) and np.isfinite(out).all() and (out >= 0).all()
        np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-6)

    def test_rows_sum_to_one(self) -> None:
        ens, probs = self.build(), self.members()
        self._check(np.asarray(ens(probs)), 20)
        self._check(np.asarray(ens(probs, [1.0, 2.0, 0.5])), 20)
        self._check(np.asarray(ens(probs[:1])), 20)

    def test_rows_follow_their_order(self) -> None:
        ens, probs = self.build(), self.members()
        perm = np.random.default_rng(0).permutation(20)
        np.testing.assert_allclose(np.asarray(ens([p[perm] for p in probs])), np.asarray(ens(probs))[perm], atol=1e-9)

    def test_fit_gives_one_weight_per_member(self) -> None:
        ens = self.build()
        if not isinstance(ens, FittingEnsembler):
            return
        probs = self.members()
        y = np.arange(20) % self.num_classes
        metric = build_component("metrics", "log_loss", plugins=self.plugins)
        fit = ens.fit(probs, y, metric)
        assert isinstance(fit, EnsembleFit) and len(fit.weights) == len(probs)
        assert min(fit.weights) >= 0 and abs(sum(fit.weights) - 1) < 1e-6 and fit.objective
        self._check(np.asarray(ens(probs, fit.weights)), 20)


class CallbackContract(_Contract):
    """A callback goes through the real events of a fold on `harness.testing.train_state()` (a
    `Linear(8, C)` model, its optimizer and the recipe `recipe`): `on_batch` returns a `Batch`,
    `lr_factor` is finite and >= 0, `eval_models` returns the same modules every time, and
    `state_dict` survives a checkpoint: a callback restored from it, on a copy of the state,
    goes on exactly as the original does."""

    kind = "callbacks"
    recipe: ClassVar[dict[str, Any]] = {}

    def state(self) -> Any:
        from harness.testing.state import train_state

        torch.manual_seed(0)
        return train_state(self.recipe, num_classes=self.num_classes)

    def epoch(self, cb: Any, state: Any, epoch: int, steps: int = 2) -> list[Any]:
        """One epoch of events in the core's order, on batches that depend only on (epoch, step);
        returns what the callback did that the core sees (extras, learning-rate factors, candidates,
        stop requests), to compare a resumed callback with the original."""
        trace: list[Any] = []
        state.epoch = epoch
        cb.on_epoch_start(state)
        for step in range(steps):
            g = torch.Generator().manual_seed(1000 * epoch + step)
            n = 6
            b = self.batch(torch.randint(0, self.num_classes, (n,), generator=g),
                           torch.randn(n, 3, 4, 4, generator=g))
            b = cb.on_batch(state, b)
            assert isinstance(b, Batch) and len(b) == n, "on_batch must return the batch (a Batch)"
            trace.append(dict(b.extras))
            logits = state.model(b.images.flatten(1)[:, :8])
            loss = nn.functional.cross_entropy(logits, b.target)
            state.optimizer.zero_grad()
            loss.backward()
            for group in state.optimizer.param_groups:
                factor = cb.lr_factor(state, group.get("part", "head"))
                assert np.isfinite(factor) and factor >= 0, f"lr_factor {factor}"
                group["lr"] = 0.1 * factor
                trace.append(float(factor))
            state.optimizer.step()
            state.update += 1
            cb.after_optimizer_step(state)
        models = cb.eval_models(state)
        assert all(isinstance(m, nn.Module) for m in models.values())
        again = cb.eval_models(state)
        assert all(again[k] is m for k, m in models.items()), "eval_models must return the same modules"
        assert all(k.isidentifier() and k.islower() for k in models), f"candidate names {sorted(models)}"
        scores = {"val_score": 0.5 + 0.1 * epoch, **{f"val_score_{k}": 0.55 + 0.1 * epoch for k in models}}
        state.metrics = {"fold": state.fold, "epoch": epoch, "train_loss": float(loss.detach()), "val_loss": 1.0 - 0.1 * epoch,
                         "lr": 0.1, **scores}
        cb.on_epoch_end(state)
        state.history.append(state.metrics)
        return [*trace, sorted(models), state.stop, state.stop_run]

    def test_events_and_state_round_trip(self) -> None:
        state, cb = self.state(), self.build()
        cb.on_fold_start(state)
        for epoch in range(2):
            self.epoch(cb, state, epoch)
        saved = through_checkpoint(cb.state_dict())
        assert isinstance(saved, dict)
        # a resume: a new callback on a copy of the state, started, then loaded (the core's order)
        copy = self.state()
        copy.unwrapped.load_state_dict(state.unwrapped.state_dict())
        copy.load_state_dict(state.state_dict())
        again = self.build()
        again.on_fold_start(copy)
        again.load_state_dict(saved)
        assert_same(again.state_dict(), cb.state_dict())
        for epoch in (2, 3):  # the resumed callback goes on exactly as the original
            assert_same(self.epoch(again, copy, epoch), self.epoch(cb, state, epoch), f"epoch {epoch} after a resume")
            assert_same(again.state_dict(), cb.state_dict())

    def test_default_options_build(self) -> None:
        assert self.build() is not None


class MetricContract(_Contract):
    """A metric scores int labels (N,) against probabilities (N, C) as a float; perfect predictions
    beat random ones in its direction; a labels-only metric reads nothing but the argmax."""

    kind = "metrics"

    def data(self, n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = np.arange(n) % self.num_classes
        perfect = np.full((n, self.num_classes), 0.1 / (self.num_classes - 1))
        perfect[np.arange(n), y] = 0.9
        return y, perfect, probabilities(n, self.num_classes, seed=3).double().numpy()

    def test_perfect_beats_random(self) -> None:
        metric: MetricSpec = self.build()
        y, perfect, noise = self.data()
        best, random = metric(y, perfect), metric(y, noise)
        assert isinstance(best, float) and np.isfinite(best) and np.isfinite(random)
        assert metric.better(best, random) and not metric.better(random, best)

    def test_labels_only_reads_the_argmax(self) -> None:
        metric: MetricSpec = self.build()
        if metric.needs_probs:
            return
        y, _, noise = self.data()
        one_hot = np.eye(self.num_classes)[noise.argmax(1)]
        assert metric(y, noise) == metric(y, one_hot)
