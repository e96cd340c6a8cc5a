"""Networks built for 32 px images and trained from scratch (`model.source = "cifar"`):

- `airbench`: the network of the CIFAR-10 speed record (Jordan, "94% on CIFAR-10 in 3.29 seconds
  on a single GPU", 2024, `KellerJordan/cifar10-airbench`, airbench94): a 2x2 stem convolution
  whose filters are fixed to the whitening of the training images' 2x2 patches, three
  conv-pool-BN-GELU groups of widths 64, 256, 256 (convolutions initialised as the identity on
  their first channels, BatchNorm scales fixed at 1), a max pool and a linear head scaled by 1/9.
  The record's lookahead, alternating flips and translated TTA views are the recipe's own
  callback (`lookahead`), batch transform option (`crop_flip.alternate`) and view (`translate`).
- `airbench_learned`: the same network with a learned stem, default initialisation and learned
  BatchNorm scales (the harness's network before the record's initialisation was added).
- `resnet18`: He et al. 2016's ResNet-18 with the CIFAR stem (a 3x3 convolution, no max pool), as
  in "How to train your ResNet" (Page 2018) and most CIFAR baselines.

Both take normalized float (N, 3, 32, 32) images; other sizes work, the pools adapting.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from harness.errors import HarnessError, suggest
from harness.hookspecs import hookimpl
from harness.specs import ModelSettings, ModelSpec


def _bn(width: int, record: bool) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(width, momentum=0.4, eps=1e-12)  # airbench's: statistics that follow a short run
    bn.weight.requires_grad_(not record)  # the record fixes the scales at 1 and trains the shifts
    return bn


def _conv(cin: int, cout: int, record: bool) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    if record:  # the record's start: the first `cin` filters pass their input channel through
        with torch.no_grad():
            nn.init.dirac_(conv.weight[:cin])
    return conv


class ConvGroup(nn.Sequential):
    def __init__(self, cin: int, cout: int, record: bool = True):
        super().__init__(_conv(cin, cout, record), nn.MaxPool2d(2), _bn(cout, record), nn.GELU(),
                         _conv(cout, cout, record), _bn(cout, record), nn.GELU())


class WhiteningStem(nn.Conv2d):
    """A k x k convolution whose 2 * C * k * k filters are fixed to the whitening of the training
    images' k x k patches: the eigenvectors of the patch covariance scaled by 1 / sqrt(eigenvalue
    + eps), and their negatives (airbench's stem). The filters are fitted on the first training
    batch the layer sees (the covariance averaged over every process, so all processes fit the
    same filters) and never trained; `fitted` is a buffer, so a resumed or loaded model keeps
    them. The bias trains."""

    def __init__(self, channels: int = 3, kernel: int = 2, eps: float = 5e-4):
        super().__init__(channels, 2 * channels * kernel * kernel, kernel, bias=True)
        self.eps = eps
        self.weight.requires_grad_(False)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.fitted):
            self.fit(x)
        return super().forward(x)

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Sets the filters from a batch of normalized images (N, C, H, W)."""
        c = images.shape[1]
        kh, kw = self.kernel_size
        patches = images.float().unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C, H', W', kh, kw)
        flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw).double()
        cov = flat.T @ flat / len(flat)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(cov)
            cov /= dist.get_world_size()
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending; the columns are the vectors
        filters = (eigenvectors.T / (eigenvalues.clamp_min(0) + self.eps).sqrt()[:, None]).flip(0).reshape(-1, c, kh, kw)
        self.weight.copy_(torch.cat([filters, -filters]).to(self.weight.dtype))
        self.fitted.fill_(True)  # type: ignore[operator]  # a registered buffer, not a method


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class AirbenchNet(nn.Module):
    def __init__(self, num_classes: int, widths: tuple[int, int, int] = (64, 256, 256), drop_rate: float = 0.0,
                 record: bool = True):
        """`record`: the record's whitening stem, identity-started convolutions and fixed
        BatchNorm scales; false: a learned stem and default initialisation."""
        super().__init__()
        stem = WhiteningStem() if record else nn.Conv2d(3, 24, 2, bias=True)  # 24 = 2 x (3 channels x 2 x 2)
        self.features = nn.Sequential(
            stem, nn.GELU(), ConvGroup(24, widths[0], record), ConvGroup(widths[0], widths[1], record),
            ConvGroup(widths[1], widths[2], record),
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
    "airbench_learned": lambda n, drop: AirbenchNet(n, drop_rate=drop, record=False),
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
    return [ModelSpec("cifar", build_cifar, doc="32 px networks from scratch: airbench, airbench_learned, resnet18",
                      check=check_cifar)]
