"""Pseudo-labelled images in a fold's training split: the protocol of a callback that adds them
(the distillation teacher is one), and the split they make with the labelled images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from accelerate import Accelerator

from harness.config.schema import Recipe
from harness.data.competition import Split
from harness.errors import HarnessError


@runtime_checkable
class PseudoLabeller(Protocol):
    """A callback that adds unlabelled images to fold `fold`'s training split. `pseudo_split` runs
    once per fold, after the components are built and before `on_fold_start`; `test` is the
    competition's unlabelled test set (None when it has none). It returns the images to add, with
    `labels` the int class each one trains as (what a sampler sees; a callback may give soft
    targets in `on_batch`), or None. Their ids must not be labelled ids of the run."""

    def pseudo_split(self, fold: int, test: Split | None, acc: Accelerator, recipe: Recipe) -> Split | None: ...


def with_pseudo(train: Split, extra: Sequence[Split]) -> Split:
    """The labelled training split followed by pseudo-labelled images."""
    if not extra:
        return train
    ids = tuple(i for s in extra for i in s.ids)
    clash = set(train.ids).intersection(ids)
    if clash:
        raise HarnessError(f"pseudo-labelled image id(s) {sorted(clash)[:3]} are also labelled training ids")
    labels = [s.labels for s in extra]
    assert train.labels is not None and all(x is not None for x in labels), "pseudo-labelled images need int labels"
    return Split(train.ids + ids, train.paths + tuple(p for s in extra for p in s.paths),
                 np.concatenate([train.labels, *labels]))
