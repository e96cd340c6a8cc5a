"""The distillation teacher, on toy models and tables (fast): which fold model labels each row
(out-of-fold, or the student's fold's, the default), cached soft labels give the loss of the live
teacher they came from, CutMix mixes them with the targets' lambda, the teacher stays out of the
student's training state, its recipe keys are checked, and distilling from out-of-fold rows warns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.config.schema import ModelConfig
from harness.config.typed import from_dict
from harness.data.competition import Split
from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.specs import TTAView
from harness_plugins.augment.mixup_cutmix import MixupCutmix, MixupCutmixOptions
from harness_plugins.distill.net import TeacherNet, renormalizer
from harness_plugins.distill.teacher import Teacher, TeacherOptions
from harness_plugins.loss.distill import DistillLoss, DistillOptions
from tests.distill_support import (
    FOLD_OF,
    IDENTITY,
    IDS,
    C,
    FoldSignature,
    K,
    TinyNet,
    batch_of,
    fold_state,
    in_sample_probs,
    live_teacher,
    random_probs,
    soft_teacher,
    teacher_run,
)

# -- the fold-aware teacher ----------------------------------------------------------------------


@pytest.mark.parametrize("fold", range(K))
def test_rows_oof_predicts_each_sample_with_the_one_model_that_never_trained_on_it(fold: int) -> None:
    pseudo = Split(("t0", "t1"), (Path("t0.png"), Path("t1.png")), np.array([0, 1]))
    state = fold_state(fold, pseudo.ids)
    cb = live_teacher(fold, [FoldSignature(j) for j in range(K)], pseudo, rows="oof")
    cb.on_fold_start(state)
    assert state.loss.teacher is cb.net
    rows = list(range(len(state.train_ids)))[::-1]  # every row, pseudo ones included, in another order
    batch = cb.on_batch(state, batch_of(state, rows))
    with torch.no_grad():
        used = state.loss.teacher(batch.images).argmax(1).tolist()  # the fold model that predicted each row
    for row, model in zip(rows, used, strict=True):
        sample = state.train_ids[row]
        if sample in FOLD_OF:  # fold j's model trained on every fold but j: only FOLD_OF[sample] never saw it
            assert model == FOLD_OF[sample] != fold
        else:  # pseudo-labelled: the model that never saw the labels this fold validates on
            assert model == fold


@pytest.mark.parametrize("fold", range(K))
@pytest.mark.parametrize("rows", ["fold", "auto"])
def test_a_run_teacher_labels_every_row_with_the_one_model_that_never_saw_the_validation_fold(fold: int, rows: str) -> None:
    # rows = "oof" labels a fold-j row with model j, which trained on fold `fold`'s labels: the
    # student's CV can read them back. rows = "fold" (a run's default) uses model `fold` for every row.
    pseudo = Split(("t0",), (Path("t0.png"),), np.array([0]))
    state = fold_state(fold, pseudo.ids)
    cb = live_teacher(fold, [FoldSignature(j) for j in range(K)], pseudo, rows=rows)
    cb.on_fold_start(state)
    every = list(range(len(state.train_ids)))
    batch = cb.on_batch(state, batch_of(state, every))
    with torch.no_grad():
        used = state.loss.teacher(batch.images).argmax(1).tolist()
    assert used == [fold] * len(every)


def test_a_routed_teacher_equals_each_fold_model_on_its_own_rows() -> None:
    models = [TinyNet(seed=j).eval() for j in range(K)]
    net = TeacherNet(models, [IDENTITY] * K, [None] * K)
    x = torch.randn(7, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    route = torch.tensor([2, 0, 1, 1, 0, 2, 2])
    net.route(route)
    out = net(x)
    want = torch.stack([models[int(r)](x[i:i + 1])[0].log_softmax(-1) for i, r in enumerate(route)])
    torch.testing.assert_close(out, want)
    with pytest.raises(RuntimeError, match="routed no rows"):
        net(x)  # a routing serves one call only


def test_cached_soft_labels_give_the_loss_of_the_live_teacher_they_came_from() -> None:
    fold = 1
    models = [TinyNet(seed=j).eval() for j in range(K)]
    images = {i: torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(n)) for n, i in enumerate(IDS)}
    with torch.no_grad():  # what a run's OOF holds: each id predicted by the fold model that left it out
        oof = torch.stack([models[FOLD_OF[i]](images[i][None])[0].softmax(-1) for i in IDS]).numpy()
    for divergence in ("js", "kl", "reverse_kl"):
        losses = []
        for cb in (live_teacher(fold, models, rows="oof"), soft_teacher(fold, oof)):
            state = fold_state(fold, loss=DistillLoss(C, DistillOptions(alpha=0.3, temperature=2.0, divergence=divergence)))
            cb.on_fold_start(state)
            rows = [3, 0, 7, 11, 5, 2]
            batch = batch_of(state, rows)
            batch = cb.on_batch(state, batch.with_(images=torch.stack([images[state.train_ids[r]] for r in rows])))
            logits = torch.randn(len(rows), C, generator=torch.Generator().manual_seed(5))
            losses.append(state.loss(logits, batch))
        torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)


def test_with_cutmix_the_cached_soft_labels_are_mixed_with_the_targets_lambda() -> None:
    oof = random_probs(len(IDS))
    state = fold_state(0, loss=DistillLoss(C, DistillOptions()))
    cb = soft_teacher(0, oof)
    cb.on_fold_start(state)
    cutmix = MixupCutmix(MixupCutmixOptions(mixup_alpha=0.0, cutmix_alpha=1.0), C, epochs=1, seed=3)
    rows = [0, 1, 2, 3, 4, 5, 6, 7]
    for step in range(5):
        batch = cb.on_batch(state, batch_of(state, rows, seed=step))
        own = batch.extras["teacher_probs"].clone()
        mixed = cutmix(batch, epoch=0)
        lam = mixed.target[torch.arange(len(rows)), batch.target]  # the own label's weight
        partner = batch.target.flip(0)
        differ = partner != batch.target
        assert differ.any()
        torch.testing.assert_close(lam[differ], 1.0 - mixed.target[torch.arange(len(rows)), partner][differ])
        want = lam[:, None] * own + (1.0 - lam[:, None]) * own.flip(0)
        torch.testing.assert_close(mixed.extras["teacher_probs"][differ], want[differ])
        torch.testing.assert_close(own, torch.from_numpy(oof[[IDS.index(state.train_ids[r]) for r in rows]]))


def test_renormalizing_maps_the_students_normalization_onto_the_teachers() -> None:
    pixels = torch.rand(2, 3, 4, 4)
    student, teacher = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), ((0.498,) * 3, (0.502,) * 3)

    def norm(x: torch.Tensor, ms: tuple[tuple[float, ...], tuple[float, ...]]) -> torch.Tensor:
        return (x - torch.tensor(ms[0]).view(1, 3, 1, 1)) / torch.tensor(ms[1]).view(1, 3, 1, 1)

    scale = renormalizer(student, teacher)
    assert scale is not None and renormalizer(student, student) is None
    torch.testing.assert_close(norm(pixels, student) * scale[0] + scale[1], norm(pixels, teacher))


# -- kept apart from the student -----------------------------------------------------------------


def test_the_teacher_stays_frozen_in_eval_mode_and_out_of_the_students_state() -> None:
    state = fold_state(0)
    cb = live_teacher(0, [TinyNet(seed=j) for j in range(K)])
    cb.on_fold_start(state)
    net = cb.net
    assert net is not None
    net.train()
    assert not net.training and not any(m.training for m in net.modules())
    assert not any(p.requires_grad for p in net.parameters())
    student = {id(p) for p in state.unwrapped.parameters()}
    optimized = {id(p) for g in state.optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in student | optimized for p in net.parameters())
    assert cb.state_dict() == {}  # nothing of the teacher travels in a checkpoint
    running = [m.running_mean.clone() for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    batch = cb.on_batch(state, batch_of(state, list(range(6))))
    state.loss(torch.randn(6, C, requires_grad=True), batch).backward()
    assert all(torch.equal(a, m.running_mean) for a, m in
               zip(running, [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)], strict=True))


# -- the recipe keys ------------------------------------------------------------------------------


def test_recipe_keys_are_checked(tmp_path: Path) -> None:
    opts = from_dict(TeacherOptions, {"source": "model", "model": {"name": "test_resnet", "weights": "w.safetensors"},
                                      "pseudo": {"images": "extra", "labels": "hard", "threshold": 0.9}}, "callbacks.teacher")
    assert Path(opts.model.weights).is_absolute() and Path(opts.pseudo.images).is_absolute()
    assert isinstance(opts.model, ModelConfig) and opts.pseudo.images != "test"
    with pytest.raises(HarnessError, match="callbacks.teacher.run: source = 'run' needs"):
        from_dict(TeacherOptions, {}, "callbacks.teacher")
    with pytest.raises(HarnessError, match="model.weights: a model teacher needs weights"):
        from_dict(TeacherOptions, {"source": "model"}, "callbacks.teacher")
    with pytest.raises(HarnessError, match="stored soft labels cover the test set only"):
        from_dict(TeacherOptions, {"source": "soft_labels", "run": "r", "pseudo": {"images": "dir"}}, "callbacks.teacher")
    with pytest.raises(HarnessError, match="rows: rows = \"fold\" labels each row with the teacher's fold-k model: a "
                                           "model teacher has no folds"):
        from_dict(TeacherOptions, {"source": "model", "model": {"weights": "w"}, "rows": "fold"}, "callbacks.teacher")
    for source in ("run", "soft_labels"):
        assert from_dict(TeacherOptions, {"source": source, "run": "r", "rows": "fold"}, "callbacks.teacher").rows == "fold"
    with pytest.raises(HarnessError, match="did you mean 'threshold'"):
        from_dict(TeacherOptions, {"run": "r", "pseudo": {"treshold": 0.5}}, "callbacks.teacher")


def test_a_model_teacher_from_a_runs_fold_weights_is_refused(tmp_path: Path) -> None:
    from harness_plugins.distill.teacher import model_teacher

    (tmp_path / "run" / "fold0").mkdir(parents=True)
    (tmp_path / "run" / "run.json").write_text("{}")
    cfg = ModelConfig(name="test_resnet", weights=str(tmp_path / "run" / "fold0" / "best_raw.safetensors"))
    with pytest.raises(HarnessError, match="fold weights of the run .* Use source = \"run\""):
        model_teacher(cfg, C, None, None, None)  # type: ignore[arg-type]


def test_an_ensemble_folder_teaches_through_its_soft_labels_only() -> None:
    from dataclasses import replace

    cb = Teacher(TeacherOptions(source="run", run="/runs/ensemble"), C, np.zeros(0))
    cb.teacher_run = replace(teacher_run(), kind="ensemble")
    with pytest.raises(HarnessError, match="holds predictions, not models; use source = \"soft_labels\""):
        cb._models(None, None)  # type: ignore[arg-type]


def test_a_live_teacher_pools_its_views_as_its_run_did() -> None:
    """TeacherNet with the geometric pool gives the geometric ensembler's probabilities."""
    from harness.predict.pooling import pool_views

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, C)).eval()
    flip = TTAView("flip", lambda x: x.flip(-1))
    views = [TTAView("plain", lambda x: x), flip]
    images = torch.randn(6, 3, 4, 4)
    geometric = load_plugins().ensembler("geometric")
    with torch.no_grad():
        logits = [model(v.apply(images)).numpy() for v in views]
        got = TeacherNet([model], [views], [None], pools=["geometric"])(images).exp().numpy()
        mean = TeacherNet([model], [views], [None])(images).exp().numpy()
    np.testing.assert_allclose(got, pool_views(geometric, logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, pool_views(None, logits), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("source", "rows", "warns"), [("soft_labels", "auto", True), ("run", "oof", True),
                                                       ("run", "auto", False), ("stored_in_sample", "auto", False),
                                                       ("stored_in_sample", "fold", False),
                                                       ("stored_in_sample", "oof", True)])
def test_distilling_from_out_of_fold_rows_warns_that_the_cv_reads_high(
        source: str, rows: str, warns: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness_plugins.distill import teacher as module

    said: list[str] = []
    monkeypatch.setattr(module, "warn", lambda message, **_: said.append(message))
    if source == "run":
        cb = live_teacher(1, [FoldSignature(j) for j in range(K)], rows=rows)
    else:
        cb = soft_teacher(1, random_probs(len(IDS)), rows=rows,
                          in_sample=in_sample_probs() if source == "stored_in_sample" else None)
    cb.on_fold_start(fold_state(1))
    assert (module.LEAK in said) is warns


@pytest.mark.parametrize("fold", range(K))
@pytest.mark.parametrize("rows", ["auto", "fold", "oof"])
def test_stored_soft_labels_label_each_row_with_the_students_fold_model_once_soft_labels_stored_them(
        fold: int, rows: str) -> None:
    oof, stored = random_probs(len(IDS)), in_sample_probs()
    state = fold_state(fold)
    cb = soft_teacher(fold, oof, in_sample=stored, rows=rows)
    cb.on_fold_start(state)
    order = list(range(len(state.train_ids)))[::-1]
    got = cb.on_batch(state, batch_of(state, order)).extras["teacher_probs"].numpy()
    ids = [state.train_ids[r] for r in order]
    if rows == "oof":  # each row from the model that left it out: its OOF row
        want = oof[[IDS.index(i) for i in ids]]
    else:  # every row from teacher fold `fold`'s model, which never saw this fold's labels
        fold_ids, probs = stored[fold]
        want = probs[[fold_ids.index(i) for i in ids]]
    np.testing.assert_array_equal(got, want)


def test_rows_fold_from_stored_soft_labels_without_their_in_sample_file_names_the_command() -> None:
    cb = soft_teacher(2, random_probs(len(IDS)), rows="fold", in_sample={k: v for k, v in in_sample_probs().items() if k != 2})
    with pytest.raises(HarnessError, match=r"no fold2/in_sample.npz \(write it with `harness soft-labels /runs/teacher`\)"):
        cb.on_fold_start(fold_state(2))
    cb = soft_teacher(0, random_probs(len(IDS)), rows="fold", in_sample=in_sample_probs())
    cb.on_fold_start(fold_state(0))  # fold 0's file is there
