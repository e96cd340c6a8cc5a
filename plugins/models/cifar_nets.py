"""Networks built for 32 px images and trained from scratch (`model.source = "cifar"`):

- `airbench`: the network of the CIFAR-10 speed record (Jordan, "94% on CIFAR-10 in 3.29 seconds
  on a single GPU", 2024, `KellerJordan/cifar10-airbench`, airbench94): a 2x2 stem convolution,
  three conv-pool-BN-GELU groups of widths 64, 256, 256, a 3x3 max pool and a linear head scaled
  by 1/9. The record also fixes its stem to whitening filters computed from the training images
  and trains it with lookahead and test-time flips; here the stem is learned, and EMA and TTA
  views are the recipe's own callbacks and views.
- `resnet18`: He et al. 2016's ResNet-18 with the CIFAR stem (a 3x3 convolution, no max pool), as
  in "How to train your ResNet" (Page 2018) and most CIFAR baselines.

Both take normalized float (N, 3, 32, 32) images; other sizes work, the pools adapting.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.errors import HarnessError, suggest
from harness.hookspecs import hookimpl
from harness.specs import ModelSettings, ModelSpec


def _bn(width: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(width, momentum=0.4, eps=1e-12)  # airbench's: statistics that follow a short run


class ConvGroup(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), _bn(cout), nn.GELU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), _bn(cout), nn.GELU())


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class AirbenchNet(nn.Module):
    def __init__(self, num_classes: int, widths: tuple[int, int, int] = (64, 256, 256), drop_rate: float = 0.0):
        super().__init__()
        stem = 24  # airbench's whitening width: 2 x (3 channels x 2 x 2 patch)
        self.features = nn.Sequential(
            nn.Conv2d(3, stem, 2, bias=True), nn.GELU(),
            ConvGroup(stem, widths[0]), ConvGroup(widths[0], widths[1]), ConvGroup(widths[1], widths[2]),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(drop_rate))
        self.head = nn.Sequential(nn.Linear(widths[2], num_classes, bias=False), Scale(1 / 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def get_classifier(self) -> nn.Module:
        return self.head


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet18(nn.Module):
    def __init__(self, num_classes: int, drop_rate: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
        cin = 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, width, stride), BasicBlock(width, width, 1)]
            cin = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(drop_rate)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc


NETS = {
    "airbench": lambda n, drop: AirbenchNet(n, drop_rate=drop),
    "resnet18": lambda n, drop: CifarResNet18(n, drop),
}


def check_cifar(cfg: ModelSettings) -> None:
    if cfg.name not in NETS:
        raise HarnessError(f"model.name: the cifar source has no network {cfg.name!r}{suggest(cfg.name, list(NETS))} "
                           f"(it has {', '.join(NETS)})")
    if cfg.pretrained and not cfg.weights:
        raise HarnessError("model.pretrained: the cifar networks train from scratch and have no published weights: "
                           "set model.pretrained = false (or model.weights to a file of your own)")


def build_cifar(cfg: ModelSettings, num_classes: int) -> nn.Module:
    from harness.weights import load_into, read_state_dict

    check_cifar(cfg)
    model = NETS[cfg.name](num_classes, cfg.drop_rate)
    if cfg.weights:
        load_into(model, read_state_dict(cfg.weights), f"model.weights {cfg.weights}")
    return model


@hookimpl
def harness_models() -> list[ModelSpec]:
    return [ModelSpec("cifar", build_cifar, doc="32 px networks from scratch: airbench, resnet18", check=check_cifar)]
