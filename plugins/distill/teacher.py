"""The `teacher` callback: the teacher of knowledge distillation (Hinton, Vinyals, Dean, "Distilling
the Knowledge in a Neural Network", 2015) for `loss.name = "distill"`, and pseudo-labels.

Three sources, `callbacks.teacher.source`:

- `"run"`: a finished harness run, one model per fold (`load_fold_model`), with its TTA views.
  Attached to the distillation loss, it predicts the batch the student sees, after CutMix/Mixup;
  student fold k's rows come from the teacher's fold-k model (`rows = "fold"`, the default).
- `"soft_labels"`: the same run's stored predictions (or an ensemble folder's), put in
  `batch.extras["teacher_probs"]` by sample id before CutMix/Mixup, which mix them with the
  targets' weights. No forward pass. Student fold k's rows come from the teacher's fold-k model's
  predictions of its own training rows where `harness soft-labels RUN` stored them, else each
  row's OOF prediction.
- `"model"`: any network with weights for these classes (`model = {source, name, weights}`, built
  like the student's `[model]`), attached to the loss like a run's fold models.

Whose labels a student's CV may see. Student fold k is scored on fold k's labels, so no teacher
model that trained on them may teach it. The teacher's fold-k model never did: it labels every
training row with `rows = "fold"` (its in-sample predictions of those rows). A row's OOF
prediction (`rows = "oof"`, and a stored soft label without `harness soft-labels`) comes from the
fold model that never saw that row, but that model trained on fold k: measured on a CIFAR-10
screen, the student's fold-0 CV then read 3 points above its Private score, where the student
alone and `rows = "fold"` read within noise of theirs (bench/README.md). Distilling so still trains
well; the harness warns that the CV reads high. Stored soft labels are fold-safe once `harness
soft-labels` has written the teacher's in-sample predictions (`fold{k}/in_sample.npz`), which
`rows = "auto"` then uses. Teacher and student must share folds either way (checked: the teacher's
`folds.csv` against the student's). A `"model"` teacher is taken on trust: if it trained on this
competition's training images, the student's CV is optimistic.

Pseudo-labelling (`[callbacks.teacher.pseudo]`, `pseudo.py`): student fold k gets the teacher's
fold-k predictions of the unlabelled images only, from the one model that never trained on fold
k's labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator

from harness.config.schema import ModelConfig, Recipe
from harness.config.typed import require
from harness.console import note, warn
from harness.data.competition import Split
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.predict.fold_model import FoldModel, load_fold_model, predict_split
from harness.predict.pooling import pool_kind, pool_views
from harness.specs import Batch, BuildContext, Callback, Component, Ensembler, FoldState, PoolKind
from harness_plugins.distill.net import TeacherNet, renormalizer
from harness_plugins.distill.pseudo import PseudoOptions, pool_of, select
from harness_plugins.distill.sources import (
    SoftLabels,
    TeacherRun,
    calibrated,
    check_labels,
    check_shared_folds,
    read_soft_labels,
    read_teacher_run,
)

Source = Literal["run", "soft_labels", "model"]
LEAK = ("callbacks.teacher: each training row's soft label is its out-of-fold prediction, made by a teacher fold model "
        "that trained on the labels this fold validates on, so the student's CV reads high (+3 points on a CIFAR-10 "
        "screen, bench/README.md); `harness soft-labels TEACHER_RUN` (stored soft labels) or source = \"run\" with rows = "
        "\"fold\" keeps it honest")


def torch_pool(ensemble: Ensembler | None) -> PoolKind:
    """How a live teacher pools a member's TTA views: as its run pooled them, or their mean (with a
    warning) where that ensembler has no torch form (rank, fitted weights)."""
    kind = pool_kind(ensemble)
    if kind is None:
        warn("the teacher's ensembler does not pool in torch (rank, fitted weights): its TTA views are averaged")
    return kind or "mean"


def _absolute(path: str) -> str:
    return str(Path(path).resolve()) if path else path


@dataclass(frozen=True)
class TeacherOptions:
    source: Source = "run"  # run: a finished run's fold models; soft_labels: its stored predictions; model: one network
    run: str = ""  # run, soft_labels: the teacher's run folder (soft_labels: or an ensemble folder)
    # model: the teacher network, keys as in [model]; `weights` must hold every tensor, the head
    # for this competition's classes included.
    model: ModelConfig = field(default_factory=ModelConfig)
    # Pool the teacher's TTA views as its recipe's ensembler pools them (run: its recipe's views;
    # soft_labels: the stored ones; model: this recipe's tta.views and ensembler); false: the first view only.
    tta: bool = True
    # soft_labels: rescale the stored probabilities by the temperature that fits the teacher's OOF
    # labels best (log loss) before use: sharpens a label-smoothed, under-confident teacher.
    calibrate: bool = False
    # Which teacher fold model labels a training row of student fold k. "fold": the teacher's fold-k
    # model, which never saw fold k's labels (an honest student CV; the rows are its in-sample
    # predictions: run live, or stored by `harness soft-labels RUN`). "oof": the one that left the
    # row out, i.e. its stored OOF prediction; those models trained on fold k's labels, so the
    # student's CV reads high (a warning says so). "auto": "fold" for a run, and for stored soft
    # labels where `harness soft-labels` stored them, else "oof".
    rows: Literal["auto", "oof", "fold"] = "auto"
    pseudo: PseudoOptions = field(default_factory=PseudoOptions)  # pseudo-labelling of unlabelled images

    def __post_init__(self) -> None:
        # Relative to where the command runs, as data.root is; the run's recipe.toml keeps them absolute.
        object.__setattr__(self, "run", _absolute(self.run))
        object.__setattr__(self, "model", replace(self.model, weights=_absolute(self.model.weights)))
        if self.pseudo.images not in ("", "test"):
            object.__setattr__(self, "pseudo", replace(self.pseudo, images=_absolute(self.pseudo.images)))

    def validate(self, where: str) -> None:
        require(self.source == "model" or bool(self.run), f"{where}.run", f"source = {self.source!r} needs the teacher's "
                "run folder, such as run = \"runs/lite2\"")
        require(self.source != "model" or bool(self.model.weights), f"{where}.model.weights",
                "a model teacher needs weights for this competition's classes (ImageNet weights alone give no head)")
        require(not self.calibrate or self.source == "soft_labels", f"{where}.calibrate",
                "rescales stored probabilities: use it with source = \"soft_labels\"")
        require(self.rows != "fold" or self.source != "model", f"{where}.rows",
                "rows = \"fold\" labels each row with the teacher's fold-k model: a model teacher has no folds")
        require(self.source != "soft_labels" or self.pseudo.images in ("", "test"), f"{where}.pseudo.images",
                "stored soft labels cover the test set only: pseudo-label a folder with source = \"run\" or \"model\"")


class Teacher(Callback):
    """One fold's teacher. Holds no state across steps: a resumed fold loads the teacher again."""

    def __init__(self, opts: TeacherOptions, num_classes: int, labels: np.ndarray):
        self.opts, self.num_classes = opts, num_classes
        self.labels = labels  # class index of each labelled training sample of this fold
        self.teacher_run: TeacherRun | None = None
        self.soft: SoftLabels | None = None
        self.members: list[FoldModel] = []  # run: one per teacher fold; model: one
        self.net: TeacherNet | None = None
        self.pseudo: Split | None = None
        self.pseudo_probs: np.ndarray | None = None  # the teacher's (M, C) probabilities of the pseudo images
        self.pseudo_targets: np.ndarray | None = None  # their (M, C) targets: those probabilities, or one-hot
        # On the device, indexed by batch.index:
        self.probs: torch.Tensor | None = None  # soft_labels: (n, C) teacher probabilities per training row
        self.route: torch.Tensor | None = None  # run: (n,) the teacher fold that predicts each row
        self.targets: torch.Tensor | None = None  # soft pseudo-labels: (M, C) targets of the pseudo rows
        self.labelled = 0  # rows before the pseudo-labelled ones

    # -- loading --------------------------------------------------------------------------------

    def load(self, acc: Accelerator, recipe: Recipe) -> None:
        """Read or build the teacher once (the first of pseudo_split and on_fold_start does)."""
        if self.teacher_run is not None or self.members:
            return
        opts = self.opts
        if opts.source != "model":
            self.teacher_run = read_teacher_run(Path(opts.run))
        if opts.source == "soft_labels":
            self.soft = read_soft_labels(Path(opts.run), opts.tta)
            if opts.calibrate:
                assert self.teacher_run is not None
                self.soft, tau = calibrated(self.soft, self.teacher_run.label_of)
                note(f"teacher {opts.run}: soft labels calibrated at temperature {tau:.3f} (fitted on its OOF labels)")
            return
        # Building a network draws from the global RNG; the student's random stream must not
        # depend on whether, or which, teacher is loaded.
        with torch.random.fork_rng(devices=[]):
            self.members = self._models(acc, recipe)

    def _models(self, acc: Accelerator, recipe: Recipe) -> list[FoldModel]:
        from harness.plugin_manager import load_plugins

        plugins = load_plugins()
        if self.opts.source == "run":
            assert self.teacher_run is not None
            if self.teacher_run.kind != "run":
                raise HarnessError(f"callbacks.teacher.run {self.opts.run} is an {self.teacher_run.kind} folder: it holds "
                                   "predictions, not models; use source = \"soft_labels\"")
            return [load_fold_model(Path(self.opts.run), k, plugins, acc.device) for k in range(self.teacher_run.folds)]
        return [model_teacher(self.opts.model, self.num_classes, recipe, acc, plugins)]

    # -- pseudo-labels (harness.train.pseudo.PseudoLabeller) ---------------------------------------

    def pseudo_split(self, fold: int, test: Split | None, acc: Accelerator, recipe: Recipe) -> Split | None:
        if not self.opts.pseudo.images:
            return None
        self.load(acc, recipe)
        pool = pool_of(self.opts.pseudo.images, test)
        probs = self._pool_probs(fold, pool, acc, recipe)
        self.pseudo, self.pseudo_targets = select(pool, probs, self.opts.pseudo)
        keep = {i: n for n, i in enumerate(pool.ids)}
        self.pseudo_probs = probs[[keep[i] for i in self.pseudo.ids]]
        return self.pseudo

    def _pool_probs(self, fold: int, pool: Split, acc: Accelerator, recipe: Recipe) -> np.ndarray:
        """Student fold k's labels for the pool: the teacher's fold-k model only (a model teacher: its one model)."""
        if self.soft is not None:
            if fold not in self.soft.test:
                raise HarnessError(f"teacher {self.opts.run} has no test predictions of fold {fold} to pseudo-label from")
            index = {i: n for n, i in enumerate(self.soft.test_ids)}
            missing = [i for i in pool.ids if i not in index]
            if missing:
                raise HarnessError(f"teacher {self.opts.run} did not predict {len(missing)} of the test images, such as "
                                   f"{missing[0]!r}: it ran on another competition")
            return self.soft.test[fold][[index[i] for i in pool.ids]]
        member = self.members[fold if self.opts.source == "run" else 0]
        logits, _ = predict_split(member, pool, acc, recipe)
        views = list(logits.values())
        return pool_views(member.ensemble, views if self.opts.tta else views[:1]).astype(np.float32)

    # -- training -------------------------------------------------------------------------------

    def on_fold_start(self, state: FoldState) -> None:
        acc = state.accelerator
        self.load(acc, state.recipe)
        pseudo = self.pseudo if self.pseudo is not None else Split((), (), np.zeros(0, dtype=np.int64))
        self.labelled = len(state.train_ids) - len(pseudo)
        ids = state.train_ids[: self.labelled]
        if state.train_ids[self.labelled:] != pseudo.ids or len(ids) != len(self.labels):
            raise RuntimeError("the trainer did not put the pseudo-labelled images after the labelled ones")
        if self.teacher_run is not None:
            if not state.fold_of:
                raise RuntimeError("a fold-aware teacher needs the run's fold assignment (FoldState.fold_of)")
            check_shared_folds(self.teacher_run, state.fold_of, state.recipe.cv.folds)
            check_labels(self.teacher_run, ids, self.labels, self.num_classes)
            if any(state.fold_of[i] == state.fold for i in ids):
                raise RuntimeError(f"fold {state.fold}'s training split holds ids of fold {state.fold} itself")
        device = acc.device
        distills = hasattr(state.loss, "teacher")  # the distillation loss takes a teacher
        fold_safe = self.opts.rows != "oof"  # student fold k's rows from the teacher's fold-k model
        if self.soft is not None:
            # Only the distillation loss reads every row's soft label. A teacher that only
            # pseudo-labels needs its test predictions of this fold, not an OOF row per training
            # id: so its run may have trained some folds alone (cv.only), as the student does.
            fold_safe = fold_safe and self._stored_in_sample(state.fold)
            if distills:
                rows = [self.soft.rows(ids, f"teacher {self.opts.run}", state.fold if fold_safe else None)]
                if self.pseudo_probs is not None:
                    rows.append(self.pseudo_probs)
                self.probs = torch.from_numpy(np.concatenate(rows).astype(np.float32)).to(device)
        else:
            self.net = self._net(state)
            if self.teacher_run is not None:
                route = [state.fold if fold_safe else self.teacher_run.fold_of[i] for i in ids] + [state.fold] * len(pseudo)
                self.route = torch.tensor(route, dtype=torch.int64, device=device)
        if distills and self.teacher_run is not None and not fold_safe:
            warn(LEAK)
        self._attach(state, distills, uses_loss=bool(len(pseudo)))
        if self.pseudo_targets is not None and self.opts.pseudo.labels == "soft":
            self.targets = torch.from_numpy(self.pseudo_targets).to(device)

    def _stored_in_sample(self, fold: int) -> bool:
        """Whether `harness soft-labels` stored the teacher's fold-`fold` in-sample predictions; an
        error where rows = "fold" asks for them and they are not there."""
        assert self.soft is not None
        if fold in self.soft.in_sample:
            return True
        if self.opts.rows == "fold":
            kind = self.teacher_run.kind if self.teacher_run is not None else "run"
            raise HarnessError(f"callbacks.teacher.rows = \"fold\": teacher {self.opts.run} has no fold{fold}/in_sample.npz "
                               + (f"(an {kind} folder has no models: distill from one of its runs)" if kind != "run" else
                                  f"(write it with `harness soft-labels {self.opts.run}`)"))
        return False

    def _net(self, state: FoldState) -> TeacherNet:
        student = (state.inputs.mean, state.inputs.std)
        return TeacherNet([m.model for m in self.members], [m.views if self.opts.tta else m.views[:1] for m in self.members],
                          [renormalizer(student, (m.inputs.mean, m.inputs.std)) for m in self.members],
                          state.accelerator.autocast, [torch_pool(m.ensemble) for m in self.members])

    def _attach(self, state: FoldState, distills: bool, uses_loss: bool) -> None:
        """A live teacher becomes the distillation loss's `teacher`; a teacher that only pseudo-labels
        needs no distillation loss."""
        if self.net is not None and distills:
            state.loss.teacher = self.net  # type: ignore[union-attr]
        elif not distills and not uses_loss:
            raise HarnessError(f"callbacks.teacher (source = {self.opts.source!r}) teaches through the loss: set "
                               "loss.name = \"distill\" (or pseudo-label with [callbacks.teacher.pseudo])")

    def on_batch(self, state: FoldState, batch: Batch) -> Batch:
        index, extras, target = batch.index, batch.extras, batch.target
        if self.probs is not None:
            extras = {**extras, "teacher_probs": self.probs[index]}
        if self.net is not None and self.route is not None:
            self.net.route(self.route[index])
        if self.targets is not None:  # soft pseudo-labels: every row soft, pseudo rows the teacher's
            pseudo = (index >= self.labelled)[:, None]
            own = target.float() if target.ndim == 2 else F.one_hot(target, self.num_classes).float()
            target = torch.where(pseudo, self.targets[(index - self.labelled).clamp(min=0)], own)
        return batch.with_(target=target, extras=extras)


def model_teacher(cfg: ModelConfig, num_classes: int, recipe: Recipe, acc: Accelerator, plugins: Any) -> FoldModel:
    """A network built like the student's `[model]`, with every tensor from `cfg.weights`, in eval
    mode on the device, with this recipe's eval transform and TTA views."""
    from harness.runtime.context import build_eval
    from harness.weights import load_into, read_state_dict

    weights = Path(cfg.weights)
    if (weights.parent.parent / "run.json").is_file():
        raise HarnessError(f"callbacks.teacher.model.weights {weights} is fold weights of the run {weights.parent.parent}, "
                           "which trained on the other folds' labels: the student's CV would lie. Use source = \"run\", "
                           f"run = \"{weights.parent.parent}\" (fold-aware)")
    model = plugins.model(cfg.source).build(replace(cfg, pretrained=False, weights=""), num_classes)
    missing = load_into(model, read_state_dict(weights), f"callbacks.teacher.model.weights {weights}")
    if missing:
        raise HarnessError(f"callbacks.teacher.model.weights {weights} lacks {len(missing)} tensor(s) of the model, such "
                           f"as {missing[0]!r}: a teacher needs them all, its head for {num_classes} classes included")
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(acc.device).eval()
    eval_tf, views, inputs = build_eval(recipe, plugins, model, num_classes, on_device=acc.device.type != "cpu")
    ensemble = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)
    return FoldModel(0, model, eval_tf, views, inputs, "model", ensemble)


def build(opts: TeacherOptions, ctx: BuildContext) -> Teacher:
    return Teacher(opts, ctx.num_classes, ctx.labels)


@hookimpl
def harness_callbacks() -> list[Component]:
    return [Component("teacher", build, TeacherOptions,
                      doc="distillation teacher (Hinton et al. 2015): a run's fold models, its stored soft labels or a "
                          "model; fold-aware; pseudo-labels (Lee 2013)")]
