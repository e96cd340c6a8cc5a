"""The contract every batch transform passes (`harness.testing.BatchTransformContract`)."""

from __future__ import annotations

import torch

from harness.specs import Batch
from harness.testing.contracts.base import Contract, probabilities, through_checkpoint


class BatchTransformContract(Contract):
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
