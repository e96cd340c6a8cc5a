"""Toy teachers, folds and batches shared by the distillation tests: K folds of 18 ids, fold
models whose logits name the fold that made them, and a Teacher callback wired as load() would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from harness.data.competition import Split
from harness.predict.fold_model import FoldModel
from harness.runtime.inputs import ModelInput
from harness.specs import Batch, TTAView
from harness.testing import train_state
from harness_plugins.distill.pseudo import PseudoOptions
from harness_plugins.distill.sources import SoftLabels, TeacherRun
from harness_plugins.distill.teacher import Teacher, TeacherOptions
from harness_plugins.loss.distill import DistillLoss, DistillOptions

K, C = 3, 3  # folds, classes
IDS = tuple(f"x{i:02d}" for i in range(18))
FOLD_OF = {i: n % K for n, i in enumerate(IDS)}  # the run's folds: id -> fold
LABEL_OF = {i: (n // K) % C for n, i in enumerate(IDS)}
IDENTITY = [TTAView("identity", lambda x: x)]


class FoldSignature(nn.Module):
    """Fold j's "model": its logits say j loudly, so a prediction names the model that made it."""

    def __init__(self, j: int):
        super().__init__()
        self.j = j
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], C) + self.w
        out[:, self.j] = 10.0
        return out


class TinyNet(nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.conv(x)).relu().mean((2, 3)))


def teacher_run(fold_of: dict[str, int] | None = None, label_of: dict[str, int] | None = None, folds: int = K) -> TeacherRun:
    return TeacherRun(Path("/runs/teacher"), "run", tuple(f"c{k}" for k in range(C)), folds, dict(fold_of or FOLD_OF),
                      dict(label_of or LABEL_OF))


def fold_state(fold: int, pseudo: tuple[str, ...] = (), loss: object = None):  # type: ignore[no-untyped-def]
    train = tuple(i for i in IDS if FOLD_OF[i] != fold)
    return train_state({"cv": {"folds": K}}, num_classes=C, fold=fold, train_ids=train + pseudo, fold_of=FOLD_OF,
                       loss=loss or DistillLoss(C, DistillOptions(alpha=0.0)), inputs=ModelInput())


def live_teacher(fold: int, models: list[nn.Module], pseudo: Split | None = None, rows: str = "auto") -> Teacher:
    train = [i for i in IDS if FOLD_OF[i] != fold]
    cb = Teacher(TeacherOptions(source="run", run="/runs/teacher", rows=rows), C,  # type: ignore[arg-type]
                 np.array([LABEL_OF[i] for i in train]))
    cb.teacher_run = teacher_run()  # what load() would read from the run folder
    cb.members = [FoldModel(j, m.eval(), None, IDENTITY, ModelInput(), "raw") for j, m in enumerate(models)]  # type: ignore[arg-type]
    if pseudo is not None:
        cb.pseudo, cb.pseudo_probs = pseudo, np.full((len(pseudo), C), 1.0 / C, dtype=np.float32)
        cb.pseudo_targets = cb.pseudo_probs
    return cb


def in_sample_probs(seed: int = 1) -> dict[int, tuple[tuple[str, ...], np.ndarray]]:
    """What `harness soft-labels` stores, read back: fold k's model on the ids outside fold k."""
    return {k: (ids, random_probs(len(ids), seed + k)) for k in range(K)
            for ids in [tuple(i for i in IDS if FOLD_OF[i] != k)]}


def soft_teacher(fold: int, oof: np.ndarray, pseudo: Split | None = None, opts: PseudoOptions | None = None,
                 in_sample: dict[int, tuple[tuple[str, ...], np.ndarray]] | None = None, rows: str = "auto") -> Teacher:
    train = [i for i in IDS if FOLD_OF[i] != fold]
    cb = Teacher(TeacherOptions(source="soft_labels", run="/runs/teacher", pseudo=opts or PseudoOptions(),
                                rows=rows), C, np.array([LABEL_OF[i] for i in train]))  # type: ignore[arg-type]
    cb.teacher_run, cb.soft = teacher_run(), SoftLabels(IDS, oof, (), {}, in_sample or {})
    if pseudo is not None:
        probs = np.tile(np.array([[0.7, 0.2, 0.1]], dtype=np.float32), (len(pseudo), 1))
        cb.pseudo, cb.pseudo_probs, cb.pseudo_targets = pseudo, probs, probs
    return cb


def batch_of(state, rows: list[int], seed: int = 0) -> Batch:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    index = torch.tensor(rows)
    target = torch.tensor([LABEL_OF.get(state.train_ids[r], 0) for r in rows])
    return Batch(torch.randn(len(rows), 3, 8, 8, generator=g), target, index)


def random_probs(n: int, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    p = g.dirichlet(np.ones(C), size=n)
    return p.astype(np.float32)
