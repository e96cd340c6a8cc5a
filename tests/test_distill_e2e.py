"""Distillation through the real CLI on a tiny generated competition: a teacher run, then students
that learn from its fold models, its stored soft labels or one model, with pseudo-labelled test
images; their OOF holds labelled ids only, no checkpoint holds the teacher, a teacher on other folds
stops the run at once, and a killed distilled run resumes bitwise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from harness.testing import make_kaggle_competition

from .conftest import TINY
from .test_e2e import harness, two_processes
from .test_resume import SETS, _same_run

pytestmark = pytest.mark.slow

PNG = ["--set", "data.extension='.png'"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(folder, student recipe, teacher run): the teacher is the tiny recipe with flip TTA."""
    folder = tmp_path_factory.mktemp("distill")
    comp = make_kaggle_competition(folder / "comp")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY.format(root=comp))
    res = harness("run", str(recipe), "--out", "teacher", "--set", "tta.views=['identity','hflip']", *PNG, cwd=folder)
    assert res.returncode == 0, res.stderr
    return folder, recipe, folder / "teacher"


def distill(teacher: Path, source: str = "run", *more: str) -> list[str]:
    sets = ["loss.name='distill'", f"callbacks.teacher.source='{source}'", *more]
    if source != "model":
        sets.append(f"callbacks.teacher.run='{teacher}'")
    return [*PNG, *(a for s in sets for a in ("--set", s))]


def steps(run: Path, fold: int) -> int:
    return len((run / f"fold{fold}" / "steps.csv").read_text().splitlines()) - 1


def test_pseudo_labelled_images_train_but_never_reach_the_oof(world: tuple[Path, Path, Path]) -> None:
    folder, recipe, teacher = world
    pseudo = distill(teacher, "soft_labels", "callbacks.teacher.pseudo.images='test'")
    res = harness("run", str(recipe), "--out", "pseudo", *pseudo, cwd=folder)
    assert res.returncode == 0, res.stderr
    assert "fold 1: 9 pseudo-labelled images train with the 15 labelled ones" in res.stderr
    train = pd.read_csv(folder / "comp" / "train.csv", dtype=str)
    test = pd.read_csv(folder / "comp" / "sample_submission.csv", dtype=str)
    oof = pd.read_csv(folder / "pseudo" / "oof.csv", dtype={"id": str})
    assert sorted(oof.id) == sorted(train.id) and not set(oof.id) & set(test.id)
    assert not set(pd.read_csv(folder / "pseudo" / "folds.csv", dtype={"id": str}).id) & set(test.id)
    # 15 labelled + 9 pseudo-labelled images a fold, batches of 8 (the last one dropped), 2 epochs
    assert steps(folder / "pseudo", 0) == 2 * (24 // 8)
    assert len(pd.read_csv(folder / "pseudo" / "submission.csv")) == len(test)


def no_teacher_in_checkpoints(run: Path) -> None:
    """Every checkpoint holds the student alone: its weights, its optimizer, an empty teacher state."""
    for fold in (0, 1):
        student = load_file(run / f"fold{fold}" / "best_raw.safetensors")
        buffers = ("running_mean", "running_var", "num_batches_tracked")
        for step in sorted((run / f"fold{fold}" / "checkpoints").glob("step-*")):
            assert load_file(step / "model.safetensors").keys() == student.keys()
            optimizer = torch.load(step / "optimizer.pt", weights_only=True)
            assert sum(len(g["params"]) for g in optimizer["param_groups"]) == sum(1 for k in student if not k.endswith(buffers))
            trainer = torch.load(step / "trainer.pt", weights_only=True)
            assert trainer["components"]["callback.teacher"] == {}
            # the model, AdamW's two moments and the EMA's copy: no room for two more teacher models
            assert sum(f.stat().st_size for f in step.iterdir()) < 4.5 * (step / "model.safetensors").stat().st_size


def test_a_teacher_on_other_folds_stops_the_run_with_a_clear_error(world: tuple[Path, Path, Path]) -> None:
    folder, recipe, teacher = world
    res = harness("run", str(recipe), "--out", "other-folds", "--set", "cv.seed=7", *distill(teacher, "soft_labels"),
                  cwd=folder)
    assert res.returncode != 0
    assert "do not share folds" in res.stderr and f'cv.folds_file = "{teacher / "folds.csv"}"' in res.stderr
    assert not (folder / "other-folds" / "fold0" / "checkpoints").exists()  # before any training


def teacher_losses(recipe: Path, teacher: Path, fold: int, arms: list[tuple[str, str]]) -> list[torch.Tensor]:
    """The distillation loss of one batch (fold `fold`'s training rows, fixed student logits) with
    each (source, rows) teacher from the run `teacher`."""
    from harness.config.recipe import load_recipe
    from harness.data.competition import load_competition
    from harness.data.images import load_array
    from harness.plugin_manager import load_plugins
    from harness.predict.fold_model import load_fold_model
    from harness.testing import train_state
    from harness_plugins.distill.teacher import Teacher, TeacherOptions
    from harness_plugins.loss.distill import DistillLoss, DistillOptions

    plugins = load_plugins()
    comp = load_competition(load_recipe(recipe, ["data.extension='.png'"], plugins).data)
    folds = pd.read_csv(teacher / "folds.csv", dtype={"id": str}).set_index("id")["fold"].to_dict()
    rows = [n for n, i in enumerate(comp.train.ids) if folds[i] != fold]
    ids = tuple(comp.train.ids[n] for n in rows)
    assert comp.train.labels is not None
    labels = comp.train.labels[rows]
    fm = load_fold_model(teacher, 1, plugins)  # only the eval transform and input step are used
    images = fm.inputs(torch.stack([fm.eval_tf(torch.from_numpy(load_array(comp.train.paths[n])).permute(2, 0, 1))
                                    for n in rows]))
    logits = torch.randn(len(ids), 3, generator=torch.Generator().manual_seed(0))
    losses = []
    for source, how in arms:
        cb = Teacher(TeacherOptions(source=source, run=str(teacher), rows=how), 3, labels)  # type: ignore[arg-type]
        state = train_state({"cv": {"folds": 2}}, num_classes=3, fold=fold, train_ids=ids, fold_of=folds,
                            loss=DistillLoss(3, DistillOptions(alpha=0.0, divergence="kl")), inputs=fm.inputs)
        cb.on_fold_start(state)
        batch = cb.on_batch(state, _batch(images, labels))
        losses.append(state.loss(logits, batch))
    return losses


def test_cached_soft_labels_equal_the_live_teacher_on_the_runs_own_predictions(world: tuple[Path, Path, Path]) -> None:
    """On the images the teacher's OOF was predicted from, the distillation loss is the same whether
    the teacher's fold models run (rows = "oof") or its stored OOF logits are read."""
    folder, recipe, teacher = world
    losses = teacher_losses(recipe, teacher, 0, [("run", "oof"), ("soft_labels", "oof")])
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-4, atol=1e-6)
    assert losses[0] > 0


def test_soft_labels_stores_each_fold_models_own_rows_and_a_stored_teacher_then_equals_the_live_fold_teacher(
        world: tuple[Path, Path, Path]) -> None:
    """`harness soft-labels` writes fold k's model's logits of every row outside fold k, every view;
    a stored teacher then gives the loss of the live teacher with rows = "fold", not the OOF one."""
    from harness.outputs.in_sample import read_in_sample

    folder, recipe, original = world
    teacher = folder / "teacher-in-sample"  # a copy: the other tests read the teacher without them
    shutil.copytree(original, teacher)
    bad = harness("soft-labels", str(teacher), "--folds", "5", cwd=folder)
    assert bad.returncode != 0 and "were not trained by this run" in bad.stderr
    res = harness("soft-labels", str(teacher), cwd=folder)
    assert res.returncode == 0, res.stderr
    folds = pd.read_csv(teacher / "folds.csv", dtype={"id": str}).set_index("id")["fold"]
    for k in (0, 1):
        assert f"wrote {teacher / f'fold{k}' / 'in_sample.npz'}" in res.stderr
        stored = read_in_sample(teacher, k)
        assert stored is not None and list(stored.logits) == ["identity", "hflip"]
        assert sorted(stored.ids) == sorted(folds.index[folds != k]) and len(set(stored.ids)) == len(stored.ids)
        assert all(x.shape == (len(stored.ids), 3) and np.isfinite(x).all() for x in stored.logits.values())
    live, stored_loss, oof = teacher_losses(recipe, teacher, 1, [("run", "fold"), ("soft_labels", "auto"),
                                                                 ("soft_labels", "oof")])
    torch.testing.assert_close(live, stored_loss, rtol=1e-4, atol=1e-6)
    assert abs(float(stored_loss) - float(oof)) > 1e-3  # the OOF rows come from other models


def _batch(images: torch.Tensor, labels: np.ndarray):  # type: ignore[no-untyped-def]
    from harness.specs import Batch

    return Batch(images, torch.from_numpy(labels), torch.arange(len(labels)))


def test_a_model_teacher_pseudo_labels_and_teaches(world: tuple[Path, Path, Path]) -> None:
    folder, recipe, teacher = world
    weights = folder / "teacher-fold1.safetensors"  # out of its run folder: taken on trust
    shutil.copyfile(teacher / "fold1" / "best_raw.safetensors", weights)
    res = harness("run", str(recipe), "--out", "model", *distill(teacher, "model", "callbacks.teacher.model.name='test_resnet'",
                  f"callbacks.teacher.model.weights='{weights}'", "callbacks.teacher.model.channels_last=false",
                  "callbacks.teacher.pseudo.images='test'", "callbacks.teacher.pseudo.labels='hard'",
                  "callbacks.teacher.pseudo.threshold=0.0"), cwd=folder)
    assert res.returncode == 0, res.stderr
    assert steps(folder / "model", 1) == 2 * (24 // 8)
    in_run = teacher / "fold1" / "best_raw.safetensors"
    refused = harness("run", str(recipe), "--out", "refused", *distill(
        teacher, "model", "callbacks.teacher.model.name='test_resnet'", f"callbacks.teacher.model.weights='{in_run}'"),
        cwd=folder)
    assert refused.returncode != 0 and "fold weights of the run" in refused.stderr


# bf16 only: fp32 resume is proven bitwise by test_resume.py; this adds the distillation state
# (teacher, CutMix, pseudo-labels, EMA) under autocast, the harder of the two.
@pytest.mark.parametrize("precision", ["bf16"])
def test_a_killed_distilled_run_resumes_bitwise(world: tuple[Path, Path, Path], precision: str) -> None:
    """The live fold teacher on CutMix batches, with soft pseudo-labels, EMA and dropout: SIGKILLed
    twice mid-epoch and resumed, the run ends bitwise equal to an uninterrupted one, and none of
    its checkpoints holds the teacher (it is loaded again on resume). In bf16, asked for by name."""
    folder, recipe, teacher = world
    sets = [*SETS, *distill(teacher, "run", "callbacks.teacher.pseudo.images='test'",
                            f"train.precision='{precision}'")]
    full = harness("run", str(recipe), "--out", f"full-{precision}", *sets, cwd=folder)
    assert full.returncode == 0, full.stderr
    assert "non-finite" not in full.stderr
    # bf16 asked for by name, on a model that meets 1-pixel maps at 16 px: warned before training.
    assert "train.precision='bf16': 2 strided convolution(s) reach a 1-pixel side" in full.stderr
    for die_at in ("5", "6"):  # 6 updates an epoch: die in epoch 1 after the checkpoint at 4, then before 6's
        cut = f"cut-{precision}"
        args = ["--out", cut, *sets] if die_at == "5" else ["--out", cut, "--resume"]
        os.environ["HARNESS_DIE_AT_UPDATE"] = die_at
        try:
            killed = harness("run", str(recipe), *args, cwd=folder)
        finally:
            del os.environ["HARNESS_DIE_AT_UPDATE"]
        assert killed.returncode == -9, killed.stderr
    resumed = harness("run", str(recipe), "--out", f"cut-{precision}", "--resume", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from step-00000004" in resumed.stderr
    _same_run(folder / f"full-{precision}", folder / f"cut-{precision}")
    no_teacher_in_checkpoints(folder / f"full-{precision}")


def test_two_processes_with_a_live_teacher_and_a_folder_of_unlabelled_images(world: tuple[Path, Path, Path]) -> None:
    """Each process loads its own teacher, never wrapped or synchronized; the folder's images (not
    in the image cache) train on both, and the OOF holds every labelled id once."""
    folder, recipe, teacher = world
    pool = folder / "unlabelled"
    if not pool.exists():
        shutil.copytree(folder / "comp" / "test", pool)
    sets = distill(teacher, "run", f"callbacks.teacher.pseudo.images='{pool}'", "callbacks.teacher.pseudo.labels='hard'",
                   "data.cache=true", f"data.cache_dir='{folder / 'cache'}'")
    res = harness("run", str(recipe), "--out", "mp", *sets, cwd=folder, launcher=two_processes(), timeout=600)
    assert res.returncode == 0, res.stderr
    assert "training images outside the competition: reading the files themselves" in res.stderr
    oof = pd.read_csv(folder / "mp" / "oof.csv", dtype={"id": str})
    assert oof.id.is_unique and len(oof) == 30 and not oof.id.str.startswith("pseudo:").any()
    assert steps(folder / "mp", 0) == 2 * (24 // 8)
