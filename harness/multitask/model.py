"""The multi-task network: a backbone's trunk run once, its last stage run per task with that
task's BatchNorm branch (`task_bn`; otherwise once, shared), and one head per task. Training, or
inside `all_tasks(model)`, it returns every task's logits side by side, (N, C_0 + C_1 + ...);
otherwise (evaluation, export, a distillation teacher) only the run's own task's, (N, C_0), so
every tool that reads a run's logits reads its own task's."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from harness.multitask.bn import TaskBatchNorm, branch_tail, in_order, split_backbone


def _resized(head: nn.Module, classes: int) -> nn.Module:
    """A copy of `head` whose last Linear layer outputs `classes`, freshly initialized."""
    new = copy.deepcopy(head)
    if isinstance(new, nn.Linear):
        return nn.Linear(new.in_features, classes, bias=new.bias is not None)
    linears = [(name, m) for name, m in new.named_modules() if isinstance(m, nn.Linear)]
    name, last = linears[-1]
    parent = new.get_submodule(name.rpartition(".")[0]) if "." in name else new
    setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, classes, bias=last.bias is not None))
    return new


class TaskNet(nn.Module):
    def __init__(self, net: nn.Module, sizes: Sequence[int], task_bn: bool = True):
        super().__init__()
        self.net = net
        self.sizes = tuple(sizes)
        split = split_backbone(net)
        self._trunk, self._tail, self._pool = split.trunk, split.tail, split.pool
        self.heads = nn.ModuleList([_resized(split.head, c) for c in self.sizes[1:]])
        self._main_head = split.head
        self._branched: list[TaskBatchNorm] = []
        if task_bn:
            self._tail, self._branched = branch_tail(net, self._tail, len(self.sizes))
        self.emit_all = False

    def _branch(self, task: int) -> None:
        for bn in self._branched:
            bn.active = task

    def _stage(self, x: torch.Tensor, task: int) -> torch.Tensor:
        self._branch(task)
        return self._pool(in_order(self._tail, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        every = self.training or self.emit_all
        shared = self._trunk(x)
        features = self._stage(shared, 0)
        out = [self._main_head(features)]
        if every:
            for t, head in enumerate(self.heads, start=1):
                if self._branched:
                    out.append(head(self._stage(shared, t)))
                else:
                    out.append(head(features))
            self._branch(0)
            return torch.cat(out, dim=1)
        return out[0]

    def get_classifier(self) -> nn.Module:
        return self._main_head


def task_nets(model: nn.Module) -> list[TaskNet]:
    return [m for m in model.modules() if isinstance(m, TaskNet)]


@contextmanager
def all_tasks(model: nn.Module) -> Iterator[None]:
    """Within it, `model` (or the TaskNet inside a wrapper) returns every task's logits in eval mode too."""
    nets = task_nets(model)
    for n in nets:
        n.emit_all = True
    try:
        yield
    finally:
        for n in nets:
            n.emit_all = False
