"""The one place a run's network is built: the recipe's model, and with further tasks the
multi-task network around it (training, `harness predict`, export and a distillation teacher
all build it here, so a checkpoint always meets the module it was saved from). And the split
of side-by-side logits back into each task's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import nn

from harness.plugin_manager import Plugins
from harness.specs import ModelSettings


def build_model(plugins: Plugins, cfg: ModelSettings, num_classes: int, task_sizes: Sequence[int] = ()) -> nn.Module:
    model = plugins.model(cfg.source).build(cfg, num_classes)
    if not task_sizes:
        return model
    from harness.multitask.model import TaskNet

    return TaskNet(model, (num_classes, *task_sizes), bool(getattr(cfg, "task_bn", True)))


def split_tasks(views: Mapping[str, np.ndarray], num_classes: int, sizes: Sequence[int],
                ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """view -> (N, C_0 + C_1 + ...) logits, as the run's own task's view -> (N, C_0) and each
    further task's."""
    own = {v: x[:, :num_classes] for v, x in views.items()}
    bounds = np.cumsum([num_classes, *sizes])
    return own, [{v: x[:, a:b] for v, x in views.items()} for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def run_tasks(extra: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """The further tasks and their classes that a run's manifest records (run.json's extra["tasks"])."""
    tasks = extra.get("tasks") or {}
    assert isinstance(tasks, dict)
    return {name: tuple(classes) for name, classes in tasks.items()}


def run_task_sizes(extra: Mapping[str, object]) -> tuple[int, ...]:
    """The further tasks' class counts a run's manifest records."""
    return tuple(len(classes) for classes in run_tasks(extra).values())
