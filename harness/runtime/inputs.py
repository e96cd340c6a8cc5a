"""Batches on their way into the model: the memory format, and on a GPU the uint8 -> float
normalization that the loader workers leave to the device (`data.normalize_on_device`): a
quarter of the bytes to pin and copy, and no float work in the workers, which on a GPU are the
bottleneck (bench/speed/throughput.py). Float batches, from a transform that normalizes itself, pass
through unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from harness.specs import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class ModelInput:
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels_last: bool = False
    _scale: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if images.dtype != torch.uint8:
            return images
        # (x / 255 - mean) / std as x * a + b, in float32; the memory format is kept.
        a, b = self._coefficients(images.device)
        return torch.addcmul(b, images.float(), a)

    def _coefficients(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._scale:
            std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
            self._scale[device] = ((1.0 / (255.0 * std)).to(device), (-mean / std).to(device))
        return self._scale[device]
