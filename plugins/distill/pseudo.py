"""Pseudo-labelling (Lee, "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning Method
for Deep Neural Networks", 2013; with a teacher's soft labels, Xie et al., "Self-training with
Noisy Student improves ImageNet classification", 2020): unlabelled images join training with the
teacher's predictions as targets, soft, or hard where the teacher is confident.

Leakage: student fold k validates on fold k's labels, so its pseudo-labels come from the
teacher's fold-k model alone, the one model that never trained on those labels. A model that
did (any other fold, or a full-data model) could label a test image that resembles a fold-k
image with that image's label, and the student's fold-k score would reward the copy: the CV
would lie. Pseudo-labelled images only train; they are never validated on or written to the OOF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from harness.config.typed import require
from harness.data.competition import IMAGE_EXTENSIONS, Split
from harness.errors import HarnessError

PREFIX = "pseudo:"  # ids of images from a folder: never a competition id


@dataclass(frozen=True)
class PseudoOptions:
    # Unlabelled images that join training: "" (none), "test" (the competition's test set) or a
    # folder of images (searched recursively; relative to where the command runs).
    images: str = ""
    labels: Literal["soft", "hard"] = "soft"  # soft: the teacher's probabilities are the targets; hard: its top class
    threshold: float = 0.0  # keep only images whose top teacher probability is at least this

    def validate(self, where: str) -> None:
        require(0.0 <= self.threshold <= 1.0, f"{where}.threshold", "must be in [0, 1]")


def folder_pool(folder: Path) -> Split:
    """Every image under `folder`, with ids `pseudo:RELATIVE/PATH`."""
    if not folder.is_dir():
        raise HarnessError(f"callbacks.teacher.pseudo.images: {folder} is not a folder (or write \"test\")")
    paths = tuple(sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS))
    if not paths:
        raise HarnessError(f"callbacks.teacher.pseudo.images: no image files under {folder}")
    return Split(tuple(PREFIX + str(p.relative_to(folder)) for p in paths), paths, None)


def pool_of(images: str, test: Split | None) -> Split:
    """The unlabelled images that `pseudo.images` names."""
    if images != "test":
        return folder_pool(Path(images))
    if test is None:
        raise HarnessError("callbacks.teacher.pseudo.images = \"test\": this competition has no unlabelled test set (an "
                           "ImageFolder's val/ is a labelled holdout, scored, so never pseudo-labelled); name a folder")
    return test


def select(pool: Split, probs: np.ndarray, opts: PseudoOptions) -> tuple[Split, np.ndarray]:
    """The images that train (top probability >= threshold), labelled with their top class, and
    their float32 (M, C) soft targets: the teacher's probabilities, or one-hot rows for hard labels."""
    keep = np.flatnonzero(probs.max(axis=1) >= opts.threshold)
    top = probs.argmax(axis=1).astype(np.int64)
    split = Split(tuple(pool.ids[i] for i in keep), tuple(pool.paths[i] for i in keep), top[keep])
    if opts.labels == "hard":
        targets = np.eye(probs.shape[1], dtype=np.float32)[top[keep]]
    else:
        targets = probs[keep].astype(np.float32)
    return split, targets


__all__ = ["PseudoOptions", "pool_of", "select", "folder_pool", "PREFIX"]
