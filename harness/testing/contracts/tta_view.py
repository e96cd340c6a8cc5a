"""The contract every tta view passes (`harness.testing.TTAViewContract`)."""

from __future__ import annotations

import torch

from harness.specs import TTAView
from harness.testing.contracts.base import Contract


class TTAViewContract(Contract):
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
