"""Optimizer parameter groups: backbone/head x decay/no-decay, and with `train.layer_decay` one
pair per layer group. The head is what timm's `get_classifier()` returns; biases and norm
weights get no weight decay; norm layers learn at `train.norm_lr_mult` times their group's rate.
`train.backbone_lr_mult = 0` trains the head alone on frozen features, with no backbone gradients
computed at all.

Every group carries the keys the trainer reads: `part` ("backbone" or "head", for a callback's
`lr_factor`) and `base_lr` (the rate that the schedule's factor multiplies)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.config.schema import Recipe, TrainConfig


def head_parameter_ids(model: nn.Module) -> set[int]:
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    if not isinstance(head, nn.Module):
        children = list(model.children())
        head = children[-1] if children else model
    return {id(p) for p in head.parameters()}


def layer_decay_groups(model: nn.Module, weight_decay: float, layer_decay: float) -> list[dict[str, Any]]:
    """timm's layer-wise decay groups (Bao et al., "BEiT", 2021; Clark et al., "ELECTRA", 2020):
    the parameters of layer i of L get the learning-rate scale `layer_decay ** (L - 1 - i)`, the
    layers being those of the model's `group_matcher` (stem, each block, the head), or blocks of
    parameters in order for a model without one. Each group has `params`, `weight_decay` and
    `lr_scale`."""
    from timm.optim import param_groups_layer_decay

    return param_groups_layer_decay(model, weight_decay=weight_decay, layer_decay=layer_decay)


def build_optimizer(model: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    head = head_parameter_ids(model)
    if cfg.backbone_lr_mult == 0:
        for p in model.parameters():
            if id(p) not in head:
                p.requires_grad_(False)  # never updated: skip its gradients (about 3x faster on a CPU)
    param_groups = []
    for params, weight_decay, scale in _groups(model, head, cfg):
        for part in ("backbone", "head"):
            mine = [p for p in params if (id(p) in head) == (part == "head") and p.requires_grad]
            if mine:
                base = lr * scale * (cfg.backbone_lr_mult if part == "backbone" else 1.0)
                param_groups.append({"params": mine, "weight_decay": weight_decay, "lr": base, "base_lr": base, "part": part})
    # Fused: one kernel for all parameters, and it can skip a non-finite step on the device
    # (harness/train/nonfinite.py), so the step loop needs no host sync.
    if cfg.optimizer == "sgd":
        sgd = torch.optim.SGD(param_groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0, fused=True)
        zero_momentum(sgd)
        return sgd
    return torch.optim.AdamW(param_groups, lr=lr, fused=True)


def zero_momentum(sgd: torch.optim.SGD) -> None:
    """Start every momentum buffer at zero. Fused SGD would make them on its first step, as
    torch.empty, and a first step skipped on the device (found_inf) would leave them uninitialised.
    From zero, the first step's buffer is the gradient, as without them: the same numbers."""
    for group in sgd.param_groups:
        if group["momentum"]:
            for p in group["params"]:
                sgd.state[p]["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)


def _groups(model: nn.Module, head: set[int], cfg: TrainConfig) -> list[tuple[list[nn.Parameter], float, float]]:
    """(parameters, weight decay, learning-rate scale) of each group, in a fixed order (a resumed
    optimizer's state is matched to its groups by position)."""
    if cfg.layer_decay > 0:
        return [(g["params"], g["weight_decay"], g["lr_scale"])
                for g in layer_decay_groups(model, cfg.weight_decay, cfg.layer_decay)]
    # Without layer decay: the groups in the order their first parameter appears, as they always
    # were, so checkpoints of earlier runs still resume; norm_lr_mult splits the norm layers off.
    norm = norm_parameter_ids(model) if cfg.norm_lr_mult != 1.0 else set()
    groups: dict[tuple[bool, bool, bool], list[nn.Parameter]] = {}
    for p in model.parameters():
        groups.setdefault((id(p) in head, p.ndim > 1, id(p) in norm), []).append(p)
    return [(params, cfg.weight_decay if decay else 0.0, cfg.norm_lr_mult if is_norm else 1.0)
            for (_, decay, is_norm), params in groups.items()]


def norm_parameter_ids(model: nn.Module) -> set[int]:
    """The parameters of the model's BatchNorm, LayerNorm and GroupNorm layers."""
    kinds = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    return {id(p) for m in model.modules() if isinstance(m, kinds) for p in m.parameters(recurse=False)}


def effective_lr(recipe: Recipe) -> float:
    """`train.lr`, times global batch / 256 with `train.scale_lr` (the global batch is the same
    on any number of processes)."""
    cfg = recipe.train
    return cfg.lr * (cfg.batch_size * cfg.grad_accum / 256 if cfg.scale_lr else 1.0)
