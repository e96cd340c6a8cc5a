"""Optimizer with four parameter groups: backbone/head x decay/no-decay. The head is what timm's
`get_classifier()` returns; biases and norm weights get no weight decay. `train.backbone_lr_mult
= 0` trains the head alone on frozen features, with no backbone gradients computed at all."""

from __future__ import annotations

import torch
from torch import nn

from harness.config.schema import TrainConfig


def head_parameter_ids(model: nn.Module) -> set[int]:
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    if not isinstance(head, nn.Module):
        children = list(model.children())
        head = children[-1] if children else model
    return {id(p) for p in head.parameters()}


def build_optimizer(model: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    head = head_parameter_ids(model)
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for p in model.parameters():
        part = "head" if id(p) in head else "backbone"
        if part == "backbone" and cfg.backbone_lr_mult == 0:
            p.requires_grad_(False)  # never updated: skip its gradients (about 3x faster on a CPU)
        if not p.requires_grad:
            continue
        groups.setdefault((part, p.ndim > 1), []).append(p)
    param_groups = []
    for (part, decay), params in groups.items():
        base = lr * (cfg.backbone_lr_mult if part == "backbone" else 1.0)
        param_groups.append(
            {"params": params, "weight_decay": cfg.weight_decay if decay else 0.0, "lr": base, "base_lr": base, "part": part}
        )
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=lr, momentum=cfg.momentum, nesterov=True)
    # Fused: one kernel for all parameters, and it can skip a non-finite step on the device
    # (harness/train/nonfinite.py), so the step loop needs no host sync.
    return torch.optim.AdamW(param_groups, lr=lr, fused=True)
