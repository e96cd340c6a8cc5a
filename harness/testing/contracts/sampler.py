"""The contract every sampler passes (`harness.testing.SamplerContract`)."""

from __future__ import annotations

from harness.testing.contracts.base import Contract


class SamplerContract(Contract):
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
