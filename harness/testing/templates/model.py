"""The `model` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

A small convolutional network (two conv-BN-ReLU stages, global average pooling, a
linear head), a model source selected by `model.source`. `build(model_config, num_classes)` gets the
[model] section (name, drop_rate, ...) and returns an nn.Module mapping float (N, 3, H, W) images
to (N, num_classes) logits.

    [model]
    source = "__NAME__"
    drop_rate = 0.1
"""

from __future__ import annotations

import torch
from torch import nn

from harness.hookspecs import hookimpl
from harness.specs import ModelSettings, ModelSpec


class __CLASS__(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, drop_rate: float = 0.0):
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.features = nn.Sequential(stage(3, width), nn.MaxPool2d(2), stage(width, 2 * width))
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(2 * width, num_classes)

    def get_classifier(self) -> nn.Module:  # the "head" parameter group (optimizer, freeze_backbone)
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x).mean((2, 3))))


def build(cfg: ModelSettings, num_classes: int) -> nn.Module:
    return __CLASS__(num_classes, drop_rate=cfg.drop_rate)


@hookimpl
def harness_models() -> list[ModelSpec]:
    return [ModelSpec("__NAME__", build, doc="example: a small two-stage CNN")]
'''

TEST = '''

def test_any_image_size() -> None:
    model = __MODULE__.__CLASS__(3).eval()
    assert model(torch.randn(2, 3, 20, 28)).shape == (2, 3)
'''

TEMPLATE = Template("model", MODULE, TEST, "import torch", "a small two-stage CNN")
