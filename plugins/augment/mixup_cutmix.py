"""Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", 2018) and CutMix (Yun et al.,
"CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features", 2019),
after timm's `timm/data/mixup.py` in its per-batch mode.

Each image is mixed with its partner in the flipped batch, so odd batch sizes work: the middle
image pairs with itself and stays as it is. The CutMix label weight is the pasted box's area after
clipping (timm's `correct_lam`). Targets leave unsmoothed; the loss smooths them once. Randomness
comes from the transform's own `torch.Generator`, whose state round-trips for an exact resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from harness.config.typed import require
from harness.hookspecs import hookimpl
from harness.specs import Batch, BuildContext, Component

Box = tuple[int, int, int, int]  # y_lo, y_hi, x_lo, x_hi


@dataclass(frozen=True)
class MixupCutmixOptions:
    mixup_alpha: float = 0.8  # Mixup's Beta(alpha, alpha) for the blend weight; 0: no Mixup
    cutmix_alpha: float = 1.0  # CutMix's Beta(alpha, alpha) for the kept area; 0: no CutMix
    prob: float = 1.0  # chance that a batch is mixed at all
    switch_prob: float = 0.5  # chance of CutMix rather than Mixup when both are on
    cutmix_minmax: tuple[float, ...] = ()  # (min, max) box side as a fraction of the image
    off_last_epochs: int = 0  # no mixing in this many final epochs (clean images to finish on)

    def validate(self, where: str) -> None:
        require(self.mixup_alpha >= 0.0, f"{where}.mixup_alpha", "must be >= 0")
        require(self.cutmix_alpha >= 0.0, f"{where}.cutmix_alpha", "must be >= 0")
        require(0.0 <= self.prob <= 1.0, f"{where}.prob", "must be in [0, 1]")
        require(0.0 <= self.switch_prob <= 1.0, f"{where}.switch_prob", "must be in [0, 1]")
        require(self.off_last_epochs >= 0, f"{where}.off_last_epochs", "must be >= 0")
        mm = self.cutmix_minmax
        require(len(mm) in (0, 2), f"{where}.cutmix_minmax", "must be empty or [min, max]")
        require(not mm or 0.0 < mm[0] < mm[1] <= 1.0, f"{where}.cutmix_minmax", "needs 0 < min < max <= 1")
        require(self.mixup_alpha > 0 or self.cutmix_alpha > 0 or bool(mm), where,
                "set mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax")


def sample_gamma(alpha: float, g: torch.Generator) -> float:
    """Gamma(alpha, 1) by Marsaglia and Tsang (2000), drawing only from `g`."""
    if alpha < 1.0:  # boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
        u = torch.rand((), generator=g, dtype=torch.float64).item()
        return sample_gamma(alpha + 1.0, g) * max(u, 1e-300) ** (1.0 / alpha)
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = torch.randn((), generator=g, dtype=torch.float64).item()
        v = (1.0 + c * x) ** 3
        u = torch.rand((), generator=g, dtype=torch.float64).item()
        if v > 0 and math.log(max(u, 1e-300)) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v


def sample_beta(alpha: float, g: torch.Generator) -> float:
    """Beta(alpha, alpha) as X / (X + Y) with X, Y ~ Gamma(alpha)."""
    x, y = sample_gamma(alpha, g), sample_gamma(alpha, g)
    return x / (x + y) if x + y > 0 else 0.5


def _randint(low: int, high: int, g: torch.Generator) -> int:
    return int(torch.randint(low, max(high, low + 1), (), generator=g).item())


def cutmix_box(h: int, w: int, lam: float, g: torch.Generator, minmax: tuple[float, ...] = ()) -> Box:
    """A box whose area is about (1 - lam) of the image (timm's `rand_bbox`), or with sides drawn
    between `minmax` fractions (timm's `rand_bbox_minmax`); clipped to the image."""
    if minmax:
        cut_h = _randint(int(h * minmax[0]), int(h * minmax[1]), g)
        cut_w = _randint(int(w * minmax[0]), int(w * minmax[1]), g)
        y, x = _randint(0, h - cut_h + 1, g), _randint(0, w - cut_w + 1, g)
        return y, y + cut_h, x, x + cut_w
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(h * ratio), int(w * ratio)
    cy, cx = _randint(0, h, g), _randint(0, w, g)
    return (max(cy - cut_h // 2, 0), min(cy + (cut_h + 1) // 2, h),
            max(cx - cut_w // 2, 0), min(cx + (cut_w + 1) // 2, w))


def one_hot(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Float (N, C) targets from hard (N,) labels or soft (N, C) targets; no host-device sync."""
    if target.ndim == 2:
        return target.float()
    out = torch.zeros(target.shape[0], num_classes, device=target.device)
    return out.scatter_(1, target.long().view(-1, 1), 1.0)


def mix_with_flipped(
    images: torch.Tensor, soft: torch.Tensor, lam: float, box: Box | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend (box None) or paste `box` from the flipped batch; `lam` is the weight of the own image."""
    flipped = images.flip(0)
    if box is None:
        mixed = images.lerp(flipped, 1.0 - lam)
    else:
        y0, y1, x0, x1 = box
        mixed = images.clone()
        mixed[..., y0:y1, x0:x1] = flipped[..., y0:y1, x0:x1]
    return mixed, mix_rows(soft, lam)


def mix_rows(values: torch.Tensor, lam: float) -> torch.Tensor:
    """Per-sample values mixed like the targets: `lam` of the own row, the rest of the partner's."""
    return values * lam + values.flip(0) * (1.0 - lam)


class MixupCutmix:
    """The batch transform: `(batch, epoch) -> batch` with mixed images and soft targets; every
    floating-point extra (a teacher's soft labels, say) is mixed with the same weights."""

    def __init__(self, opts: MixupCutmixOptions, num_classes: int, epochs: int, seed: int):
        self.opts, self.num_classes, self.epochs = opts, num_classes, epochs
        self.cutmix_on = opts.cutmix_alpha > 0 or bool(opts.cutmix_minmax)
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def from_options(cls, opts: MixupCutmixOptions, ctx: BuildContext) -> MixupCutmix:
        return cls(opts, ctx.num_classes, ctx.epochs, ctx.seed)

    def active(self, epoch: int) -> bool:
        return epoch < self.epochs - self.opts.off_last_epochs

    def draw(self, h: int, w: int) -> tuple[float, Box | None] | None:
        """This batch's (lam, box), box None for Mixup; None when the batch stays unmixed."""
        o, g = self.opts, self.generator
        if torch.rand((), generator=g).item() >= o.prob:
            return None
        switch = o.mixup_alpha <= 0 or torch.rand((), generator=g).item() < o.switch_prob
        use_cutmix = self.cutmix_on and switch
        if not use_cutmix:
            return sample_beta(o.mixup_alpha, g), None
        lam = 0.0 if o.cutmix_minmax else sample_beta(o.cutmix_alpha or 1.0, g)
        box = cutmix_box(h, w, lam, g, o.cutmix_minmax)
        return 1.0 - (box[1] - box[0]) * (box[3] - box[2]) / (h * w), box

    def __call__(self, batch: Batch, epoch: int) -> Batch:
        soft = one_hot(batch.target, self.num_classes)
        params = self.draw(*batch.images.shape[-2:]) if self.active(epoch) else None
        if params is None:
            return batch.with_(target=soft)
        images, soft = mix_with_flipped(batch.images, soft, *params)
        extras = {k: mix_rows(v, params[0]) if v.is_floating_point() else v for k, v in batch.extras.items()}
        return batch.with_(images=images, target=soft, extras=extras)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@hookimpl
def harness_batch_transforms() -> list[Component]:
    return [Component("mixup_cutmix", MixupCutmix.from_options, MixupCutmixOptions,
                      doc="Mixup or CutMix per batch (Zhang et al. 2018; Yun et al. 2019): mixed images, soft targets")]
