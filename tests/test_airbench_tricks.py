"""The CIFAR-10 speed record's tricks as the harness carries them: the whitening stem and the
record's initialisation of the airbench net, lookahead, alternating flips, the translated TTA
views and the norm layers' learning-rate multiplier."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from harness.config.schema import TrainConfig
from harness.errors import HarnessError
from harness.specs import Batch
from harness.train.optim import build_optimizer
from harness_plugins.augment.crop_flip import CropFlip, CropFlipOptions
from harness_plugins.callbacks.lookahead import Lookahead, LookaheadOptions
from harness_plugins.models.cifar_nets import AirbenchNet, WhiteningStem
from harness_plugins.tta.views import TranslateOptions, build_translate, translate


def _correlated_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, 1, 32, 32, generator=g)
    smooth = nn.functional.avg_pool2d(base, 3, 1, 1)  # neighbouring pixels correlate
    noise = 0.2 * torch.randn(n, 2, 32, 32, generator=g)
    return torch.cat([smooth, 0.5 * smooth + noise[:, :1], -smooth + noise[:, 1:]], 1) + 0.3


def test_the_whitening_stem_whitens_the_patches_of_the_batch_it_fits() -> None:
    stem = WhiteningStem(eps=0.0)
    x = _correlated_images()
    stem.train()
    stem(x)
    assert bool(stem.fitted)
    y = nn.functional.conv2d(x.double(), stem.weight.double())  # no bias: the filters alone
    first = y[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    cov = first.T @ first / len(first)
    # With eps = 0, the 12 whitened channels are uncorrelated with unit variance (the patch
    # covariance is about the mean, not centred, as the record computes it).
    torch.testing.assert_close(cov, torch.eye(12, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(stem.weight[12:], -stem.weight[:12])
    assert not stem.weight.requires_grad and stem.bias is not None and stem.bias.requires_grad


def _fit_in_process(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        stem = WhiteningStem()
        stem.train()
        stem(_correlated_images(16, seed=rank))  # each process its own batch
        torch.save(stem.weight.detach(), f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_processes_fit_one_stem_from_all_their_batches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Under several processes every one fits the same filters: those of all their batches together."""
    import torch.multiprocessing as mp

    mp.spawn(_fit_in_process, args=(f"file://{tmp_path / 'rendezvous'}", str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"{r}.pt", weights_only=True) for r in (0, 1))
    torch.testing.assert_close(first, second, atol=0, rtol=0)
    together = WhiteningStem()
    together.fit(torch.cat([_correlated_images(16, seed=0), _correlated_images(16, seed=1)]))

    def gram(w: torch.Tensor) -> torch.Tensor:  # sum of f f^T over the filters: blind to each one's sign
        flat = w[:12].flatten(1).double()
        return flat.T @ flat

    torch.testing.assert_close(gram(first), gram(together.weight), atol=1e-4, rtol=1e-4)


def test_a_fitted_stem_keeps_its_filters_through_training_and_a_reload() -> None:
    torch.manual_seed(0)
    net = AirbenchNet(10)
    net.train()
    net(_correlated_images(8))
    fitted = net.features[0].weight.clone()
    net(_correlated_images(8, seed=1))  # a later batch does not refit
    torch.testing.assert_close(net.features[0].weight, fitted, atol=0, rtol=0)
    again = AirbenchNet(10)
    again.load_state_dict(net.state_dict())
    again.train()
    again(_correlated_images(8, seed=2))
    torch.testing.assert_close(again.features[0].weight, fitted, atol=0, rtol=0)


def test_the_record_initialisation_against_the_learned_variant() -> None:
    record, learned = AirbenchNet(10), AirbenchNet(10, record=False)
    conv = record.features[2][0]  # the first group's first convolution: 24 -> 64
    eye = torch.zeros(24, 24, 3, 3)
    eye[torch.arange(24), torch.arange(24), 1, 1] = 1.0
    torch.testing.assert_close(conv.weight[:24], eye, atol=0, rtol=0)
    bns = [m for m in record.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not m.weight.requires_grad and m.bias.requires_grad for m in bns)
    assert all(p.requires_grad for p in learned.parameters())
    assert isinstance(record.features[0], WhiteningStem) and not isinstance(learned.features[0], WhiteningStem)
    opt = build_optimizer(record, TrainConfig(optimizer="sgd", lr=0.1), 0.1)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(record.features[0].weight) not in in_opt and all(id(m.weight) not in in_opt for m in bns)


def _state(model: nn.Module, update: int) -> SimpleNamespace:
    return SimpleNamespace(unwrapped=model, update=update)


def _reference_lookahead(steps: list[torch.Tensor], every: int, total: int) -> torch.Tensor:
    """airbench94's loop on one weight: the fast weight takes each step, every `every` updates
    slow.lerp_(fast, 1 - decay) and fast = slow, decay = 0.95**every * (t / total)**3; after the
    last update, fast = slow."""
    fast, slow = torch.zeros(3), torch.zeros(3)
    for t, step in enumerate(steps, start=1):
        fast = fast + step
        if t % every == 0:
            decay = 0.95**every * (t / total) ** 3
            slow = slow.lerp(fast, 1 - decay)
            fast = slow.clone()
        if t >= total:
            fast = slow.clone()
    return fast


def test_lookahead_follows_the_record_and_ends_on_the_slow_weights() -> None:
    total, every = 12, 5
    model = nn.Linear(3, 1, bias=False)
    nn.init.zeros_(model.weight)
    cb = Lookahead(LookaheadOptions(every=every), total)
    cb.on_fold_start(_state(model, 0))
    g = torch.Generator().manual_seed(0)
    steps = [torch.randn(3, generator=g) for _ in range(total)]
    for t, step in enumerate(steps, start=1):
        with torch.no_grad():
            model.weight += step
        cb.after_optimizer_step(_state(model, t))
    torch.testing.assert_close(model.weight[0], _reference_lookahead(steps, every, total))
    assert cb.decay(total) == 1.0 and cb.decay(0) == 0.0


def test_lookahead_resumes_exactly() -> None:
    total = 9
    g = torch.Generator().manual_seed(1)
    steps = [torch.randn(1, 3, generator=g) for _ in range(total)]

    def train(until: int, cb: Lookahead, model: nn.Module, start: int = 0) -> None:
        for t in range(start + 1, until + 1):
            with torch.no_grad():
                model.weight += steps[t - 1]
            cb.after_optimizer_step(_state(model, t))

    whole = nn.Linear(3, 1, bias=False)
    nn.init.zeros_(whole.weight)
    cb = Lookahead(LookaheadOptions(every=2), total)
    cb.on_fold_start(_state(whole, 0))
    train(total, cb, whole)

    cut = nn.Linear(3, 1, bias=False)
    nn.init.zeros_(cut.weight)
    first = Lookahead(LookaheadOptions(every=2), total)
    first.on_fold_start(_state(cut, 0))
    train(5, first, cut)
    saved_model, saved_cb = {k: v.clone() for k, v in cut.state_dict().items()}, first.state_dict()
    resumed_model = nn.Linear(3, 1, bias=False)
    resumed = Lookahead(LookaheadOptions(every=2), total)
    resumed.on_fold_start(_state(resumed_model, 0))  # the order of a resumed fold: start, then load
    resumed_model.load_state_dict(saved_model)
    resumed.load_state_dict(saved_cb)
    train(total, resumed, resumed_model, start=5)
    torch.testing.assert_close(resumed_model.weight, whole.weight, atol=0, rtol=0)


def test_lookahead_options_are_checked() -> None:
    with pytest.raises(HarnessError, match="every"):
        LookaheadOptions(every=0).validate("callbacks.lookahead")
    with pytest.raises(HarnessError, match="decay_per_update"):
        LookaheadOptions(decay_per_update=1.0).validate("callbacks.lookahead")


def _batch(index: torch.Tensor) -> Batch:
    n = len(index)
    images = torch.arange(n * 3 * 4 * 4, dtype=torch.float32).reshape(n, 3, 4, 4)
    return Batch(images=images, target=torch.zeros(n, dtype=torch.int64), index=index)


def test_alternating_flips_mirror_each_image_in_every_other_epoch() -> None:
    tf = CropFlip(CropFlipOptions(pad=0, alternate=True), seed=3)
    index = torch.arange(400)
    batch = _batch(index)
    flipped = []
    for epoch in range(4):
        out = tf(batch, epoch).images
        flipped.append((out == batch.images.flip(-1)).flatten(1).all(1))
        assert ((out == batch.images) | (out == batch.images.flip(-1))).flatten(1).all(1).all()
    assert torch.equal(flipped[0], ~flipped[1]) and torch.equal(flipped[0], flipped[2]) and torch.equal(flipped[1], flipped[3])
    assert 0.4 < flipped[0].float().mean() < 0.6  # a fair coin per image
    # The coin belongs to the image: the same index flips alike in any batch, on any process.
    other = CropFlip(CropFlipOptions(pad=0, alternate=True), seed=3, world_size=2, rank=1)
    part = tf(_batch(index[100:110].flip(0)), 0).images
    mirrored = (part == _batch(index[100:110].flip(0)).images.flip(-1)).flatten(1).all(1)
    assert torch.equal(mirrored, flipped[0][100:110].flip(0))
    assert torch.equal(other.coin(index), tf.coin(index))
    assert not torch.equal(CropFlip(CropFlipOptions(alternate=True), seed=4).coin(index), tf.coin(index))


def test_translate_views_shift_by_a_pixel_with_reflection() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    down_right = translate(x, 1)
    torch.testing.assert_close(down_right[0, 0, 1:, 1:], x[0, 0, :3, :3])
    torch.testing.assert_close(down_right[0, 0, 0, 1:], x[0, 0, 1, :3])  # the top row reflects row 1
    up_left = translate(x, -1)
    torch.testing.assert_close(up_left[0, 0, :3, :3], x[0, 0, 1:, 1:])
    views = build_translate(TranslateOptions(), None)
    assert [v.name for v in views] == ["translate_ul", "translate_ul_hflip", "translate_dr", "translate_dr_hflip"]
    torch.testing.assert_close(views[3].apply(x), down_right.flip(-1))
    assert all(v.apply(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32) for v in views)


def test_norm_layers_learn_at_their_multiplier() -> None:
    net = AirbenchNet(10, record=False)
    plain = build_optimizer(net, TrainConfig(optimizer="sgd", lr=0.1), 0.1)
    scaled = build_optimizer(net, TrainConfig(optimizer="sgd", lr=0.1, norm_lr_mult=64.0), 0.1)
    norm = {id(p) for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()}
    for group in scaled.param_groups:
        is_norm = {id(p) in norm for p in group["params"]}
        assert len(is_norm) == 1  # a group is all norm parameters or none
        assert group["lr"] == pytest.approx(6.4 if is_norm.pop() else 0.1)
    assert all(g["lr"] == pytest.approx(0.1) for g in plain.param_groups)
    assert sum(len(g["params"]) for g in plain.param_groups) == sum(len(g["params"]) for g in scaled.param_groups)
    with pytest.raises(HarnessError, match="norm_lr_mult"):
        TrainConfig(norm_lr_mult=2.0, layer_decay=0.8).validate("train")
