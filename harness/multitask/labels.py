"""Each further task's labels (`data.tasks`), read before any training: a column of the Kaggle
train.csv, or a level of the label hierarchy ("level_K"), by image id. A bad name is one line
naming the file or setting."""

from __future__ import annotations

import re

from harness.config.schema import DataConfig
from harness.data.classes import sort_classes
from harness.data.csv import read_csv
from harness.data.split import Competition, TaskLabels
from harness.errors import HarnessError

LEVEL = re.compile(r"level_(\d+)$")


def _column(comp: Competition, cfg: DataConfig, name: str) -> TaskLabels:
    path = comp.root / cfg.train_csv
    if comp.layout != "kaggle":
        raise HarnessError(f"data.tasks: {name!r} is neither level_K of data.hierarchy nor usable as a label column: "
                           f"{comp.root} is an ImageFolder, with one label per image")
    table = read_csv(path, [cfg.id_column])
    if name not in table.columns:
        raise HarnessError(f"{path}: data.tasks names column {name!r}, which it lacks; its columns are "
                           f"{list(table.columns)}")
    if name in (cfg.id_column, cfg.label_column):
        raise HarnessError(f"data.tasks: {name!r} is the {'id' if name == cfg.id_column else 'label'} column itself")
    values = dict(zip(table[cfg.id_column], table[name].str.strip(), strict=True))
    classes = sort_classes([v for v in values.values() if v])
    if len(classes) < 2:
        raise HarnessError(f"{path}: column {name!r} has {len(classes)} distinct label(s); a task needs at least 2")
    index = {c: k for k, c in enumerate(classes)}
    return TaskLabels(name, tuple(classes), {i: index[v] for i, v in values.items() if v})


def _level(comp: Competition, cfg: DataConfig, name: str, level: int) -> TaskLabels:
    from harness.hierarchy.folders import load_tree

    if not cfg.hierarchy:
        raise HarnessError(f"data.tasks: {name!r} is a level of data.hierarchy, which is not set")
    tree = load_tree(cfg.hierarchy, comp.root, cfg.train_dir, comp.classes)
    tree.check_level(level, f"data.tasks {name!r}: level")
    nodes, of_class = tree.level_index(level)
    by_id: dict[str, int] = {}
    for split in (comp.train, comp.holdout):
        if split is not None and split.labels is not None:
            by_id.update({i: of_class[y] for i, y in zip(split.ids, split.labels.tolist(), strict=True)})
    return TaskLabels(name, nodes, by_id)


def load_tasks(comp: Competition, cfg: DataConfig) -> tuple[TaskLabels, ...]:
    if cfg.level or cfg.branch:
        raise HarnessError("data.tasks trains further heads beside the leaves; it cannot be combined with "
                           "data.level or data.branch")
    out = []
    for name in cfg.tasks:
        match = LEVEL.match(name)
        out.append(_level(comp, cfg, name, int(match.group(1))) if match else _column(comp, cfg, name))
    return tuple(out)


__all__ = ["load_tasks"]
