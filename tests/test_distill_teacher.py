"""The distillation teacher, on toy models and tables (fast): the fold-aware teacher gives each
sample the model that never trained on it, cached soft labels give the loss of the live teacher
they came from, CutMix mixes them with the targets' lambda, the teacher stays out of the student's
training state, mismatched folds are a clear error, and pseudo-labels come out as asked."""

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
from harness.predict.fold_model import FoldModel
from harness.runtime.inputs import ModelInput
from harness.specs import Batch, TTAView
from harness.testing import train_state
from harness.train.pseudo import PseudoLabeller, with_pseudo
from harness_plugins.augment.mixup_cutmix import MixupCutmix, MixupCutmixOptions
from harness_plugins.distill.net import TeacherNet, renormalizer
from harness_plugins.distill.pseudo import PseudoOptions, select
from harness_plugins.distill.sources import SoftLabels, TeacherRun, calibrated, check_labels, check_shared_folds
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


def soft_teacher(fold: int, oof: np.ndarray, pseudo: Split | None = None, opts: PseudoOptions | None = None) -> Teacher:
    train = [i for i in IDS if FOLD_OF[i] != fold]
    cb = Teacher(TeacherOptions(source="soft_labels", run="/runs/teacher", pseudo=opts or PseudoOptions()), C,
                 np.array([LABEL_OF[i] for i in train]))
    cb.teacher_run, cb.soft = teacher_run(), SoftLabels(IDS, oof, (), {})
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
    rows = list(range(len(state.train_ids)))
    batch = cb.on_batch(state, batch_of(state, rows))
    with torch.no_grad():
        used = state.loss.teacher(batch.images).argmax(1).tolist()
    assert used == [fold] * len(rows)


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


# -- the folds must be the student's -------------------------------------------------------------


@pytest.mark.parametrize(("scale", "sharper"), [(0.3, True), (3.0, False)])
def test_calibration_fits_the_temperature_that_undoes_a_flat_or_overconfident_teacher(scale: float, sharper: bool) -> None:
    """Soft labels made from well-calibrated logits z (the labels are drawn from softmax(z)),
    flattened or sharpened as softmax(scale * z): the fitted temperature is about `scale`, which
    gives back the calibrated probabilities; argmax (the teacher's accuracy) never moves."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.0, (4000, 5))
    true = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in true])
    off = np.exp(scale * z) / np.exp(scale * z).sum(1, keepdims=True)
    ids = tuple(str(i) for i in range(len(z)))
    soft = SoftLabels(ids, off.astype(np.float32), ("t",), {0: off[:1].astype(np.float32)})
    fixed, tau = calibrated(soft, {i: int(c) for i, c in zip(ids, y, strict=True)})
    assert tau == pytest.approx(scale, rel=0.1)
    assert (fixed.oof.max(1).mean() > off.max(1).mean()) == sharper
    assert np.abs(fixed.oof - true).max() < 0.1 and np.array_equal(fixed.oof.argmax(1), off.argmax(1))
    assert np.allclose(fixed.test[0], fixed.oof[:1], atol=1e-6)  # the test rows are rescaled alike
    with pytest.raises(HarnessError, match="calibrate"):
        from_dict(TeacherOptions, {"source": "run", "run": "runs/x", "calibrate": True}, "callbacks.teacher").validate(
            "callbacks.teacher")


def test_a_teacher_on_other_folds_is_a_clear_error() -> None:
    moved = dict(FOLD_OF)
    for i in IDS[:6]:  # ids 0 and 3 of fold 0 go to fold 1; 1, 4 to fold 2; 2, 5 to fold 0
        moved[i] = (FOLD_OF[i] + 1) % K
    with pytest.raises(HarnessError, match=r"teacher run /runs/teacher's fold 1 has 2 ids that this run puts in fold 0.*"
                                           r"cv.folds_file = \"/runs/teacher/folds.csv\""):
        check_shared_folds(teacher_run(moved), FOLD_OF, K)
    with pytest.raises(HarnessError, match="has 5 folds and this run 3"):
        check_shared_folds(teacher_run(folds=5), FOLD_OF, K)
    with pytest.raises(HarnessError, match="no fold for 1 of this run's 19 training ids, such as 'new'"):
        check_shared_folds(teacher_run(), {**FOLD_OF, "new": 0}, K)
    check_shared_folds(teacher_run({**FOLD_OF, "extra": 2}), FOLD_OF, K)  # ids the student leaves out are fine


def test_the_error_reaches_the_fold_before_any_training() -> None:
    moved = {i: (f + 1) % K for i, f in FOLD_OF.items()}
    cb = soft_teacher(0, random_probs(len(IDS)))
    cb.teacher_run = teacher_run(moved)
    with pytest.raises(HarnessError, match="do not share folds"):
        cb.on_fold_start(fold_state(0))


def test_a_teacher_with_other_labels_is_a_clear_error() -> None:
    ids = [i for i in IDS if FOLD_OF[i] != 0]
    labels = np.array([LABEL_OF[i] for i in ids])
    check_labels(teacher_run(), ids, labels, C)
    with pytest.raises(HarnessError, match="labels 12 training id"):
        check_labels(teacher_run(), ids, (labels + 1) % C, C)
    with pytest.raises(HarnessError, match="has 3 classes"):
        check_labels(teacher_run(), ids, labels, 4)


# -- pseudo-labels --------------------------------------------------------------------------------


def test_soft_pseudo_labels_become_the_targets_of_the_pseudo_rows_only() -> None:
    pseudo = Split(("t0", "t1", "t2"), tuple(Path(f"t{k}.png") for k in range(3)), np.array([0, 0, 0]))
    state = fold_state(2, pseudo.ids)
    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.on_fold_start(state)
    n = len(state.train_ids)
    rows = [n - 1, 0, n - 3, 5]
    batch = cb.on_batch(state, batch_of(state, rows))
    assert batch.target.shape == (4, C)
    torch.testing.assert_close(batch.target[[0, 2]], torch.tensor([[0.7, 0.2, 0.1]] * 2))
    labelled = torch.tensor([LABEL_OF[state.train_ids[r]] for r in (0, 5)])
    torch.testing.assert_close(batch.target[[1, 3]], nn.functional.one_hot(labelled, C).float())
    torch.testing.assert_close(batch.extras["teacher_probs"][[0, 2]], torch.tensor([[0.7, 0.2, 0.1]] * 2))


def test_a_teacher_that_trained_some_folds_pseudo_labels_but_cannot_distill() -> None:
    """A teacher run with cv.only = [2] has OOF rows for fold 2's ids alone. Pseudo-labelling needs
    only its fold-k test predictions, so a student with the cross-entropy loss trains on them; the
    distillation loss needs every training row's soft label, so it stops with the reason."""
    from harness.specs import target_loss
    from harness_plugins.loss.cross_entropy import SmoothedCrossEntropy

    pseudo = Split(("t0", "t1"), (Path("t0.png"), Path("t1.png")), np.array([0, 0]))
    fold2 = tuple(i for i in IDS if FOLD_OF[i] == 2)
    partial = SoftLabels(fold2, random_probs(len(fold2)), (), {})
    loss = target_loss(SmoothedCrossEntropy(C))
    state = fold_state(2, pseudo.ids, loss=loss)
    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.soft = partial
    cb.on_fold_start(state)
    n = len(state.train_ids)
    batch = cb.on_batch(state, batch_of(state, [n - 1, 0]))
    assert "teacher_probs" not in batch.extras
    torch.testing.assert_close(batch.target[0], torch.tensor([0.7, 0.2, 0.1]))
    torch.testing.assert_close(batch.target[1], nn.functional.one_hot(torch.tensor(LABEL_OF[state.train_ids[0]]), C).float())
    assert torch.isfinite(state.loss(torch.randn(2, C), batch))

    cb = soft_teacher(2, random_probs(len(IDS)), pseudo, PseudoOptions(images="test"))
    cb.soft = partial
    with pytest.raises(HarnessError, match="no out-of-fold prediction for 12 training id.*to distill, it must have trained"):
        cb.on_fold_start(fold_state(2, pseudo.ids))


def test_pseudo_selection_soft_hard_and_threshold() -> None:
    pool = Split(tuple(f"t{k}" for k in range(4)), tuple(Path(f"t{k}.png") for k in range(4)), None)
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]], dtype=np.float32)
    split, targets = select(pool, probs, PseudoOptions(images="test"))
    assert split.ids == pool.ids and split.labels.tolist() == [0, 0, 2, 1]
    np.testing.assert_array_equal(targets, probs)
    split, targets = select(pool, probs, PseudoOptions(images="test", labels="hard", threshold=0.6))
    assert split.ids == ("t0", "t2", "t3") and split.labels.tolist() == [0, 2, 1]
    np.testing.assert_array_equal(targets, np.eye(C, dtype=np.float32)[[0, 2, 1]])


def test_pseudo_images_follow_the_labelled_ones_and_never_share_an_id() -> None:
    train = Split(("a", "b"), (Path("a"), Path("b")), np.array([0, 1]))
    extra = Split(("t0",), (Path("t0"),), np.array([2]))
    both = with_pseudo(train, [extra])
    assert both.ids == ("a", "b", "t0") and both.labels.tolist() == [0, 1, 2]
    assert with_pseudo(train, []) is train
    with pytest.raises(HarnessError, match="also labelled training ids"):
        with_pseudo(train, [Split(("a",), (Path("x"),), np.array([0]))])
    assert isinstance(Teacher(TeacherOptions(run="r"), C, np.zeros(0)), PseudoLabeller)


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
    with pytest.raises(HarnessError, match="rows: rows = \"fold\" predicts each row with the teacher's fold-k model"):
        from_dict(TeacherOptions, {"source": "soft_labels", "run": "r", "rows": "fold"}, "callbacks.teacher")
    assert from_dict(TeacherOptions, {"run": "r", "rows": "fold"}, "callbacks.teacher").rows == "fold"
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
                                                       ("run", "auto", False)])
def test_distilling_from_out_of_fold_rows_warns_that_the_cv_reads_high(
        source: str, rows: str, warns: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness_plugins.distill import teacher as module

    said: list[str] = []
    monkeypatch.setattr(module, "warn", lambda message, **_: said.append(message))
    if source == "run":
        cb = live_teacher(1, [FoldSignature(j) for j in range(K)], rows=rows)
    else:
        cb = soft_teacher(1, random_probs(len(IDS)))
    cb.on_fold_start(fold_state(1))
    assert (module.LEAK in said) is warns
