"""BatchNorm branching in the last stage: each BatchNorm layer there becomes one copy per task
(running statistics and affine parameters), and the convolutions stay shared. The practice comes
from classifiers that serve several label sets from one backbone ("multi-task layer4 BN
branching"); it lets each task re-centre and re-scale the shared features of the stage whose
features its head reads, at the cost of running that stage once per task.

`split_backbone` knows where the last stage is in the families it supports: timm's ResNet (and
so ResNeXt, SE-ResNeXt, the SWSL/SSL weights), timm's EfficientNet (and EfficientNet-Lite), and
the 32 px airbench net of `model.source = "cifar"`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.errors import HarnessError


class TaskBatchNorm(nn.Module):
    """One BatchNorm per task, `active` choosing which one runs."""

    def __init__(self, bn: nn.BatchNorm2d, tasks: int):
        super().__init__()
        self.branches = nn.ModuleList(copy.deepcopy(bn) for _ in range(tasks))
        self.active = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branches[self.active](x)


def branch_batchnorms(stage: nn.Module, tasks: int) -> list[TaskBatchNorm]:
    """Replace every BatchNorm2d under `stage` (in place) by a TaskBatchNorm of `tasks` copies."""
    made: list[TaskBatchNorm] = []
    for name, child in list(stage.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            branched = TaskBatchNorm(child, tasks)
            setattr(stage, name, branched)
            made.append(branched)
        else:
            made += branch_batchnorms(child, tasks)
    return made


def in_order(modules: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """`x` through `modules`, one after another (as an nn.Sequential of them would, without
    registering them a second time)."""
    for m in modules:
        x = m(x)
    return x


@dataclass
class Split:
    """A backbone cut before its last stage: `trunk(x)` runs everything before it, the `tail`
    modules run it in order, `pool` turns its output into the head's input, `head` is the run's
    own classifier (whose last Linear layer the other tasks' heads copy the shape of)."""

    trunk: Callable[[torch.Tensor], torch.Tensor]
    tail: list[nn.Module]
    pool: Callable[[torch.Tensor], torch.Tensor]
    head: nn.Module


def _timm_resnet(net: Any) -> Split:
    def trunk(x: torch.Tensor) -> torch.Tensor:
        x = net.maxpool(net.act1(net.bn1(net.conv1(x))))
        return net.layer3(net.layer2(net.layer1(x)))

    return Split(trunk, [net.layer4], lambda y: net.forward_head(y, pre_logits=True), net.fc)


def _timm_efficientnet(net: Any) -> Split:
    blocks = list(net.blocks.children())
    return Split(lambda x: in_order(blocks[:-1], net.bn1(net.conv_stem(x))), [blocks[-1], net.conv_head, net.bn2],
                 lambda y: net.forward_head(y, pre_logits=True), net.classifier)


def _airbench(net: Any) -> Split:
    layers = list(net.features.children())  # stem conv, GELU, 3 conv groups, pool, flatten, dropout
    return Split(lambda x: in_order(layers[:4], x), [layers[4]], lambda y: in_order(layers[5:], y), net.head)


def branch_tail(net: nn.Module, tail: list[nn.Module], tasks: int) -> tuple[list[nn.Module], list[TaskBatchNorm]]:
    """The tail with every BatchNorm branched per task; a tail module that is itself a BatchNorm
    (EfficientNet's last `bn2`) is replaced where `net` holds it too."""
    out: list[nn.Module] = []
    made: list[TaskBatchNorm] = []
    for stage in tail:
        if isinstance(stage, nn.BatchNorm2d):
            branched = TaskBatchNorm(stage, tasks)
            name = next(n for n, m in net.named_modules() if m is stage)
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], branched)
            out.append(branched)
            made.append(branched)
        else:
            made += branch_batchnorms(stage, tasks)
            out.append(stage)
    return out, made


def split_backbone(net: nn.Module) -> Split:
    """Where `net`'s last stage is; a HarnessError naming the supported families otherwise."""
    kind = type(net).__name__
    if kind == "ResNet" and hasattr(net, "layer4") and hasattr(net, "forward_head"):
        return _timm_resnet(net)
    if kind == "EfficientNet" and hasattr(net, "blocks") and hasattr(net, "conv_head"):
        return _timm_efficientnet(net)
    if kind == "AirbenchNet":
        return _airbench(net)
    raise HarnessError(f"data.tasks: a {kind} model has no known last stage to branch; multi-task heads support "
                       "timm ResNet/ResNeXt and EfficientNet models, and the cifar source's airbench net")
