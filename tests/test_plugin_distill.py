"""Properties of the distillation loss: the divergences, the T^2 term's gradient, numerical safety
at zero probabilities and in half precision, and the two ways of supplying a teacher."""

from __future__ import annotations

import math
from typing import get_args

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.config.typed import from_dict
from harness.errors import HarnessError
from harness.specs import Batch
from harness.testing import context
from harness_plugins.loss import distill
from harness_plugins.loss.cross_entropy import SmoothedCrossEntropy
from harness_plugins.loss.distill import (
    DistillLoss,
    DistillOptions,
    Divergence,
    TeacherKind,
    build,
    distill_term,
    js_divergence,
    kl_divergence,
    tempered_log_probs,
    tempered_log_probs_from_probs,
)

C, N = 5, 8
LN2 = math.log(2.0)
DIVERGENCES: tuple[Divergence, ...] = get_args(Divergence)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def log_probs(n: int = N, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return F.log_softmax(scale * torch.randn(n, C, generator=gen(seed), dtype=torch.float64), -1)


def one_hot_log(classes: torch.Tensor) -> torch.Tensor:
    return F.one_hot(classes, C).double().log()  # 0 and -inf


def extreme_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    a, b = torch.arange(N) % C, (torch.arange(N) + 1) % C
    return [
        (one_hot_log(a), one_hot_log(b)),  # disjoint supports
        (one_hot_log(a), one_hot_log(a)),
        (one_hot_log(a), log_probs()),
        (log_probs(seed=1, scale=50.0), log_probs(seed=2, scale=50.0)),  # nearly one-hot, underflow
    ]


def random_pairs(count: int = 20) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(log_probs(seed=2 * i, scale=0.5 + i), log_probs(seed=2 * i + 1, scale=0.5 + i)) for i in range(count)]


# -- the divergences ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [log_probs(), one_hot_log(torch.arange(N) % C)])
def test_divergence_of_identical_distributions_is_zero(p: torch.Tensor) -> None:
    torch.testing.assert_close(js_divergence(p, p), torch.zeros(N, dtype=p.dtype))
    torch.testing.assert_close(kl_divergence(p, p), torch.zeros(N, dtype=p.dtype))


def test_js_is_symmetric_and_bounded_by_ln2() -> None:
    for p, q in random_pairs() + extreme_pairs():
        js = js_divergence(p, q)
        torch.testing.assert_close(js, js_divergence(q, p))
        assert torch.isfinite(js).all()
        assert (js >= -1e-12).all() and (js <= LN2 + 1e-12).all()


def test_disjoint_one_hots_reach_ln2() -> None:
    p, q = extreme_pairs()[0]
    torch.testing.assert_close(js_divergence(p, q), torch.full((N,), LN2, dtype=torch.float64))


def test_kl_is_non_negative() -> None:
    for p, q in random_pairs() + extreme_pairs()[2:]:
        assert (kl_divergence(p, q) >= -1e-12).all()


def test_kl_matches_torch() -> None:
    p, q = log_probs(seed=3), log_probs(seed=4)
    expected = F.kl_div(q, p, reduction="none", log_target=True).sum(-1)
    torch.testing.assert_close(kl_divergence(p, q), expected)


# -- the distillation term and its gradient -----------------------------------------------------


def reference_term(student: torch.Tensor, teacher_probs: torch.Tensor, t: float, divergence: str) -> torch.Tensor:
    """T^2 * mean D written directly on float64 probabilities (no zeros allowed)."""
    s = torch.softmax(student.double() / t, -1)
    p = teacher_probs.double() ** (1 / t)
    p = p / p.sum(-1, keepdim=True)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * (a / b).log()).sum(-1)

    if divergence == "js":
        d = 0.5 * kl(p, (p + s) / 2) + 0.5 * kl(s, (p + s) / 2)
    else:
        d = kl(p, s) if divergence == "kl" else kl(s, p)
    return t * t * d.mean()


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_gradcheck_in_float64(divergence: Divergence, temperature: float) -> None:
    student = torch.randn(4, C, generator=gen(1), dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(4, C, generator=gen(2), dtype=torch.float64)
    probs = torch.softmax(teacher, -1)
    assert torch.autograd.gradcheck(
        lambda s: distill_term(s, teacher, temperature, divergence, teacher_is="logits"), (student,))
    assert torch.autograd.gradcheck(
        lambda s: distill_term(s, probs, temperature, divergence, teacher_is="probs"), (student,))
    one_hot = F.one_hot(torch.arange(4) % C, C).double()
    if divergence != "reverse_kl":  # reverse KL to a one-hot teacher rests on the log(tiny) floor
        assert torch.autograd.gradcheck(
            lambda s: distill_term(s, one_hot, temperature, divergence, teacher_is="probs"), (student,))


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_float32_value_and_gradient_match_the_float64_reference(divergence: Divergence) -> None:
    t = 2.0
    student = torch.randn(N, C, generator=gen(3)) * 3
    probs = torch.softmax(torch.randn(N, C, generator=gen(4)) * 3, -1)
    ours = student.clone().requires_grad_()
    value = distill_term(ours, probs, t, divergence, teacher_is="probs")
    value.backward()
    ref = student.double().requires_grad_()
    expected = reference_term(ref, probs, t, divergence)
    expected.backward()
    assert value.dtype == torch.float32
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-6)
    assert ours.grad is not None and ref.grad is not None
    torch.testing.assert_close(ours.grad.double(), ref.grad, rtol=1e-4, atol=1e-6)


def test_kl_gradient_is_hintons_closed_form() -> None:
    """d/dz of T^2 KL(p_t || softmax(z/T)), batch mean, is T (p_s - p_t) / N."""
    t = 3.0
    student = torch.randn(N, C, generator=gen(5), dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(N, C, generator=gen(6), dtype=torch.float64)
    distill_term(student, teacher, t, "kl", teacher_is="logits").backward()
    expected = t * (torch.softmax(student.detach() / t, -1) - torch.softmax(teacher / t, -1)) / N
    assert student.grad is not None
    torch.testing.assert_close(student.grad, expected)


def test_t_squared_keeps_the_gradient_scale_at_high_temperature() -> None:
    """As T grows, the T^2-scaled KL gradient tends to (centered logit gap) / (N C), not to 0."""
    student = torch.randn(N, C, generator=gen(7), dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(N, C, generator=gen(8), dtype=torch.float64)
    distill_term(student, teacher, 1e5, "kl", teacher_is="logits").backward()
    gap = student.detach() - teacher
    expected = (gap - gap.mean(-1, keepdim=True)) / (N * C)
    assert student.grad is not None
    torch.testing.assert_close(student.grad, expected, rtol=1e-3, atol=1e-6)


# -- numerical safety ---------------------------------------------------------------------------


def hard_teachers() -> list[tuple[torch.Tensor, TeacherKind]]:
    one_hot = F.one_hot(torch.arange(N) % C, C).float()
    zeros = torch.softmax(torch.randn(N, C, generator=gen(9)), -1)
    zeros[:, 0] = 0.0
    zeros = zeros / zeros.sum(-1, keepdim=True)
    inf_logits = torch.randn(N, C, generator=gen(10))
    inf_logits[:, 1:3] = -math.inf
    big_logits = torch.randn(N, C, generator=gen(11))
    big_logits[:, 0] = -1e4
    return [(one_hot, "probs"), (zeros, "probs"), (inf_logits, "logits"), (big_logits, "logits"),
            (big_logits.half(), "logits"), (one_hot.half(), "probs")]


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("temperature", [0.5, 4.0])
def test_no_nan_or_inf_at_zero_probabilities_and_half_precision(
        divergence: Divergence, dtype: torch.dtype, temperature: float) -> None:
    base = torch.randn(N, C, generator=gen(12)) * 4
    base[0, :] = torch.tensor([-1e4, 0.0, 20.0, 0.0, -1e4])  # the student is nearly one-hot too
    for teacher, kind in hard_teachers():
        student = base.to(dtype).requires_grad_()
        value = distill_term(student, teacher, temperature, divergence, teacher_is=kind)
        value.backward()
        assert value.dtype == torch.float32 and torch.isfinite(value), (kind, teacher)
        assert student.grad is not None and student.grad.dtype == dtype
        assert torch.isfinite(student.grad).all(), (kind, teacher)


def test_js_is_finite_when_the_student_has_exact_zeros() -> None:
    student = torch.randn(N, C, generator=gen(13))
    student[:, 0] = -math.inf
    student.requires_grad_()
    teacher = F.one_hot(torch.arange(N) % C, C).float()  # some rows put all mass where the student has none
    value = distill_term(student, teacher, 1.0, "js", teacher_is="probs")
    value.backward()
    assert torch.isfinite(value) and student.grad is not None and torch.isfinite(student.grad).all()
    assert value <= LN2 + 1e-6


# -- the teacher: cached probabilities or a model -----------------------------------------------


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_tempering_cached_probabilities_equals_tempered_softmax_of_logits(temperature: float) -> None:
    logits = torch.randn(N, C, generator=gen(14)) * 3
    probs = torch.softmax(logits, -1)
    expected = torch.softmax(logits / temperature, -1)
    torch.testing.assert_close(tempered_log_probs_from_probs(probs, temperature).exp(), expected)
    torch.testing.assert_close(tempered_log_probs(logits, temperature).exp(), expected)
    powered = probs ** (1 / temperature)
    torch.testing.assert_close(powered / powered.sum(-1, keepdim=True), expected)


class Teacher(nn.Module):
    """A tiny teacher with dropout, so train mode would show in its outputs."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(3 * 4 * 4, C))
        self.modes: list[bool] = []
        self.register_forward_pre_hook(lambda module, args: self.modes.append(module.training))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def batch(soft: bool = False, seed: int = 15) -> Batch:
    g = gen(seed)
    target = torch.randint(0, C, (N,), generator=g)
    if soft:  # a Mixup-style mix of two one-hots
        target = 0.7 * F.one_hot(target, C).float() + 0.3 * F.one_hot(target.flip(0), C).float()
    return Batch(images=torch.randn(N, 3, 4, 4, generator=g), target=target, index=torch.arange(N))


def student_logits(seed: int = 16) -> torch.Tensor:
    return torch.randn(N, C, generator=gen(seed)).requires_grad_()


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_cached_probabilities_equal_the_model_teacher(divergence: Divergence) -> None:
    opts = DistillOptions(alpha=0.3, temperature=2.5, divergence=divergence, smoothing=0.1)
    b, teacher = batch(), Teacher()
    with_model = DistillLoss(C, opts, teacher=teacher)
    teacher.eval()
    with torch.no_grad():
        cached = torch.softmax(teacher(b.images), -1)
    with_cache = DistillLoss(C, opts)
    a, c = student_logits(), student_logits()
    value_model, value_cache = with_model(a, b), with_cache(c, b.with_(extras={"teacher_probs": cached}))
    torch.testing.assert_close(value_model, value_cache)
    value_model.backward()
    value_cache.backward()
    assert a.grad is not None and c.grad is not None
    torch.testing.assert_close(a.grad, c.grad)


def test_model_teacher_runs_in_eval_mode_without_gradients() -> None:
    teacher = Teacher()
    teacher.train()
    loss = DistillLoss(C, DistillOptions(alpha=0.5), teacher=teacher)
    b = batch()
    first = loss(student_logits(), b)
    first.backward()
    assert loss(student_logits(), b) == first  # dropout off: the same teacher output twice
    assert teacher.modes == [False, False]
    assert all(p.grad is None for p in teacher.parameters())


def test_cached_probabilities_take_precedence_over_a_model() -> None:
    teacher = Teacher()
    loss = DistillLoss(C, DistillOptions(alpha=0.0), teacher=teacher)
    probs = torch.softmax(torch.randn(N, C, generator=gen(17)), -1)
    loss(student_logits(), batch().with_(extras={"teacher_probs": probs}))
    assert teacher.modes == []


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_alpha_one_is_the_task_loss(soft: bool, smoothing: float) -> None:
    b, logits = batch(soft), student_logits()
    loss = DistillLoss(C, DistillOptions(alpha=1.0, smoothing=smoothing), teacher=Teacher())
    torch.testing.assert_close(loss(logits, b), SmoothedCrossEntropy(C, smoothing)(logits, b.target))
    if not soft:
        torch.testing.assert_close(loss(logits, b), F.cross_entropy(logits, b.target, label_smoothing=smoothing))


@pytest.mark.parametrize("soft", [False, True])
def test_the_loss_mixes_task_and_distillation_by_alpha(soft: bool) -> None:
    b, logits = batch(soft), student_logits()
    probs = torch.softmax(torch.randn(N, C, generator=gen(18)), -1)
    b = b.with_(extras={"teacher_probs": probs})
    opts = DistillOptions(alpha=0.25, temperature=3.0, divergence="kl", smoothing=0.1)
    expected = (0.25 * SmoothedCrossEntropy(C, 0.1)(logits, b.target)
                + 0.75 * distill_term(logits, probs, 3.0, "kl", teacher_is="probs"))
    torch.testing.assert_close(DistillLoss(C, opts)(logits, b), expected)


def test_a_missing_teacher_says_how_to_configure_one() -> None:
    with pytest.raises(HarnessError, match=r"teacher_probs.*loss.teacher"):
        DistillLoss(C, DistillOptions())(student_logits(), batch())


def test_a_teacher_of_the_wrong_shape_is_an_error() -> None:
    b = batch().with_(extras={"teacher_probs": torch.full((N, C + 1), 1 / (C + 1))})
    with pytest.raises(HarnessError, match="shape"):
        DistillLoss(C, DistillOptions())(student_logits(), b)


# -- the component ------------------------------------------------------------------------------


def test_built_from_recipe_options() -> None:
    component = distill.harness_losses()[0]
    assert component.name == "distill" and component.options is DistillOptions
    opts = from_dict(DistillOptions, {"alpha": 0.7, "temperature": 4, "divergence": "kl"}, "loss")
    loss = build(opts, context(num_classes=C))
    assert isinstance(loss, DistillLoss) and loss.teacher is None
    value = loss(student_logits(), batch().with_(extras={"teacher_probs": torch.full((N, C), 1 / C)}))
    assert value.ndim == 0 and torch.isfinite(value)


@pytest.mark.parametrize("bad", [{"alpha": 1.5}, {"alpha": -0.1}, {"temperature": 0}, {"smoothing": 1.0},
                                 {"divergence": "tv"}, {"temprature": 2.0}])
def test_invalid_options_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(HarnessError):
        from_dict(DistillOptions, bad, "loss")
