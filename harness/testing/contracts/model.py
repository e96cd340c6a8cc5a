"""The contract every model passes (`harness.testing.ModelContract`)."""

from __future__ import annotations

import torch
from torch import nn

from harness.testing.contracts.base import Contract, through_checkpoint


class ModelContract(Contract):
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
