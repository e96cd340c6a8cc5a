"""The CPU bf16 convolution guard: which calls go to fp32, that a guarded convolution's weight
gradient is right under bf16 autocast on any CPU, and that it changes nothing else (weights,
names, fp32 outputs, copies). Whether the unguarded kernel is wrong depends on the CPU
(bench/speed/bf16_kernels.py shows it), so no test here asserts that it is."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from harness.runtime import bf16_guard, precision


@pytest.mark.parametrize(("kernel", "stride", "padding", "size", "hit"), [
    (3, 2, 1, 1, True),    # test_resnet's layer4 at 16 px: 1 -> 1
    (3, 2, 1, 2, True),    # 2 -> 1
    (5, 2, 2, 1, True),
    (3, 3, 1, 2, True),
    (3, 2, 1, 4, False),   # 4 -> 2: right on every CPU seen
    (3, 1, 1, 1, False),   # not strided
    (1, 2, 0, 2, True),    # a 1x1 kernel: wrong in a few calls on 3 input channels (AVX-512 Xeon)
    (1, 1, 0, 1, False),   # not strided
])
def test_calls_with_a_one_pixel_output_side_are_the_ones_sent_to_fp32(kernel: int, stride: int, padding: int, size: int,
                                                                      hit: bool) -> None:
    conv = nn.Conv2d(8, 8, kernel, stride, padding)
    assert bf16_guard.wrong_at(conv, size, size) is hit
    assert bf16_guard.wrong_at(conv, 8, size) is hit  # one side is enough


def test_the_probe_names_test_resnets_last_strided_convs_at_16_px_and_none_at_64() -> None:
    model = timm.create_model("test_resnet", num_classes=3)
    assert bf16_guard.hit_at(model, 16) == ["layer3.0.conv2", "layer4.0.conv1"]
    assert bf16_guard.hit_at(model, 64) == []
    assert model.training  # the probe leaves the mode as it was


def _weight_grads(conv: nn.Conv2d, x: torch.Tensor, grad: torch.Tensor, bf16: bool) -> torch.Tensor:
    conv.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = conv(x)
    out.float().backward(grad)
    assert conv.weight.grad is not None
    return conv.weight.grad.clone()


def test_a_guarded_conv_gets_the_fp32_weight_gradient_under_cpu_bf16_autocast() -> None:
    """The shape the issue saw on AMX: (96, 192, 3, 3), stride 2, on a 1-pixel map. Guarded, the
    gradient equals fp32's exactly (the call runs in fp32), every time, on any CPU."""
    torch.manual_seed(0)
    conv = nn.Conv2d(192, 96, 3, 2, 1, bias=False)
    reference = copy.deepcopy(conv)
    bf16_guard.guard(conv)
    for _ in range(3):
        x, grad = torch.randn(8, 192, 1, 1), torch.randn(8, 96, 1, 1)
        want = _weight_grads(reference, x, grad, bf16=False)
        got = _weight_grads(conv, x, grad, bf16=True)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_a_guarded_conv_on_a_larger_map_still_runs_in_bf16() -> None:
    conv = nn.Conv2d(16, 16, 3, 2, 1)
    bf16_guard.guard(conv)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.randn(2, 16, 8, 8)).dtype == torch.bfloat16
        assert conv(torch.randn(2, 16, 1, 1)).dtype == torch.float32


@pytest.mark.parametrize(("groups", "out", "is_depthwise"), [
    (16, 16, True),    # EfficientNet's and MobileNet's 3x3 / 5x5
    (16, 32, True),    # a channel multiplier of 2
    (4, 16, False),    # grouped (ResNeXt): bf16 pays there (1.9-2.7x a step)
    (1, 16, False),
])
def test_depthwise_convs_train_in_fp32_and_predict_in_bf16_under_cpu_autocast(groups: int, out: int,
                                                                              is_depthwise: bool) -> None:
    """oneDNN's bf16 depthwise forward-and-backward is slower than fp32's (bench/speed/step_precision.py),
    its forward alone is not: a depthwise call leaves autocast only while gradients are recorded."""
    conv = nn.Conv2d(16, out, 3, 1, 1, groups=groups)
    assert bf16_guard.depthwise(conv) is is_depthwise
    assert bf16_guard.guard(conv) == ([""] if is_depthwise else [])  # stride 1: only the depthwise rule watches it
    x = torch.randn(2, 16, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(x).dtype == (torch.float32 if is_depthwise else torch.bfloat16)
        with torch.no_grad():
            assert conv(x).dtype == torch.bfloat16
    assert conv(x).dtype == torch.float32  # outside autocast: the plain convolution


def test_a_guarded_depthwise_conv_gets_the_fp32_weight_gradient_under_cpu_bf16_autocast() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 32, 5, 2, 2, groups=32, bias=False)
    reference = copy.deepcopy(conv)
    bf16_guard.guard(conv)
    x, grad = torch.randn(4, 32, 12, 12), torch.randn(4, 32, 6, 6)
    torch.testing.assert_close(_weight_grads(conv, x, grad, bf16=True), _weight_grads(reference, x, grad, bf16=False),
                               rtol=0, atol=0)


def test_the_depthwise_rule_can_be_switched_off_and_the_kernel_bug_guard_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bf16_guard.DEPTHWISE_ENV, "bf16")
    flat, strided = nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.Conv2d(8, 8, 3, 2, 1, groups=8)
    assert bf16_guard.guard(flat) == [] and bf16_guard.guard(strided) == [""]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert strided(torch.randn(2, 8, 8, 8)).dtype == torch.bfloat16  # on oneDNN's bf16 kernel, as asked
        assert strided(torch.randn(2, 8, 2, 2)).dtype == torch.float32  # a 1-pixel output: still fp32
    monkeypatch.setenv(bf16_guard.DEPTHWISE_ENV, "fp16")
    with pytest.raises(HarnessError, match="HARNESS_BF16_DEPTHWISE='fp16': use fp32"):
        bf16_guard.guard(nn.Conv2d(8, 8, 3, 1, 1, groups=8))


def test_the_guard_watches_an_efficientnets_depthwise_and_strided_convs_and_nothing_else() -> None:
    model = timm.create_model("efficientnet_lite0", num_classes=3)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    names = bf16_guard.guard(model)
    assert names == [n for n, m in convs.items() if m.groups > 1 or m.stride != (1, 1)]
    assert sum(bf16_guard.depthwise(convs[n]) for n in names) == 16  # one a block
    assert "conv_head" not in names and "blocks.1.0.conv_pw" not in names  # the 1x1 convolutions stay bf16


def test_the_guard_changes_no_weight_name_or_fp32_output_and_survives_a_copy() -> None:
    torch.manual_seed(0)
    plain = timm.create_model("test_resnet", num_classes=3).eval()
    guarded = copy.deepcopy(plain)
    names = bf16_guard.guard(guarded)
    assert "layer4.0.conv1" in names and bf16_guard.guard(guarded) == names  # idempotent
    assert list(guarded.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(guarded(x), plain(x))
    twin = copy.deepcopy(guarded)  # what an EMA does
    assert type(twin.layer4[0].conv1) is type(guarded.layer4[0].conv1)
    assert isinstance(twin.layer4[0].conv1, nn.Conv2d)


def test_a_bf16_training_step_of_a_guarded_model_at_16_px_has_finite_gradients() -> None:
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", num_classes=3)
    bf16_guard.guard(model)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 3, (8,))
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_note_names_the_layers_and_says_who_chose_bf16() -> None:
    model = timm.create_model("test_resnet", num_classes=3)
    asked = bf16_guard.note(model, 16, auto=False)
    assert asked is not None and asked.startswith("train.precision='bf16': 2 strided convolution(s)")
    assert "layer4.0.conv1" in asked and "fp32" in asked
    auto = bf16_guard.note(model, 16, auto=True)
    assert auto is not None and auto.startswith("auto picked bf16")
    assert bf16_guard.note(model, 64, auto=False) is None


def test_auto_precision_can_be_set_for_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setenv(precision.AUTO_ENV, "bf16")
    assert precision.resolve("auto", cuda=False) == "bf16" and precision.cpu_bf16("auto")
    assert precision.resolve("fp32", cuda=False) == "no"  # a precision asked for by name wins
    monkeypatch.setenv(precision.AUTO_ENV, "fp32")
    assert precision.resolve("auto", cuda=False) == "no" and not precision.cpu_bf16("auto")
    monkeypatch.setenv(precision.AUTO_ENV, "half")
    with pytest.raises(HarnessError, match="HARNESS_AUTO_PRECISION='half': use one of bf16, fp16, fp32"):
        precision.resolve("auto", cuda=False)


@pytest.mark.parametrize(("groups", "size"), [(8, 6), (8, 2), (1, 2)])  # depthwise; depthwise at 1 pixel; dense at 1 pixel
def test_a_guarded_tf_same_padded_conv_runs_its_own_forward_in_fp32(groups: int, size: int) -> None:
    """timm's Conv2dSame (tf_ EfficientNets) pads in its forward and has padding 0: the fp32 call
    must pad as it does, and the 1-pixel check must see its padded output (ceil(2 / 2) = 1)."""
    torch.manual_seed(0)
    conv = timm.layers.Conv2dSame(8, 8, 3, stride=2, groups=groups, bias=False)
    reference = copy.deepcopy(conv)
    assert bf16_guard.wrong_at(conv, size, size) is (size == 2)
    assert bf16_guard.guard(conv) == [""]
    x = torch.randn(2, 8, size, size)
    out_size = -(-size // 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.float32 and out.shape == (2, 8, out_size, out_size)
    torch.testing.assert_close(out, reference(x), rtol=0, atol=0)
    grad = torch.randn(2, 8, out_size, out_size)
    torch.testing.assert_close(_weight_grads(conv, x, grad, bf16=True), _weight_grads(reference, x, grad, bf16=False),
                               rtol=0, atol=0)


def test_a_guarded_tf_efficientnet_trains_a_bf16_step() -> None:
    """A tf_ EfficientNet's strided convolutions are Conv2dSame (the stem and four depthwise ones),
    which the guard runs in fp32 while training: the step keeps fp32's shapes, finite gradients."""
    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_lite0", num_classes=3)
    plain = copy.deepcopy(model)
    modules = dict(model.named_modules())
    names = bf16_guard.guard(model)
    same = [n for n in names if bf16_guard.same_padded(modules[n])]
    assert same == ["conv_stem", "blocks.1.0.conv_dw", "blocks.2.0.conv_dw", "blocks.3.0.conv_dw", "blocks.5.0.conv_dw"]
    assert sum(bf16_guard.depthwise(modules[n]) for n in names) == 16
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([0, 2])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = model.forward_features(x)
        logits = model.forward_head(features)
    assert features.shape == plain.forward_features(x).shape == (2, 1280, 2, 2) and logits.shape == (2, 3)
    F.cross_entropy(logits.float(), y).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
