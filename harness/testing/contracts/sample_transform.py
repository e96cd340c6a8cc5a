"""The contract every sample transform passes (`harness.testing.SampleTransformContract`)."""

from __future__ import annotations

import torch

from harness.testing.contracts.base import Contract


class SampleTransformContract(Contract):
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
