"""Multi-task heads with BatchNorm branching in the last stage: the network (the run's own task
is the plain model's output; each task its own BN statistics and affine parameters over shared
convolutions), the loss that routes each image to the tasks it is labelled for, the task labels'
clear errors, and a real tiny run through `harness run`, `harness predict` and an ONNX export
whose BN-branched graph reproduces the run's test predictions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
import torch.nn.functional as F

from harness.cli import main
from harness.config.schema import DataConfig
from harness.data.competition import load_competition
from harness.errors import HarnessError
from harness.multitask.bn import TaskBatchNorm
from harness.multitask.loss import MultiTaskLoss, TaskTargets, extra_key
from harness.multitask.model import TaskNet, all_tasks
from harness.specs import Batch, target_loss
from harness.testing import make_imagefolder, make_kaggle_competition

from .conftest import TINY


def _nets() -> dict[str, torch.nn.Module]:
    from harness_plugins.models.cifar_nets import AirbenchNet

    torch.manual_seed(0)
    return {"resnet": timm.create_model("test_resnet", num_classes=5),
            "efficientnet": timm.create_model("test_efficientnet", num_classes=5), "airbench": AirbenchNet(5)}


@pytest.mark.parametrize("family", ["resnet", "efficientnet", "airbench"])
def test_the_own_task_is_the_plain_model_and_every_task_has_its_bn_branch(family: str) -> None:
    net = _nets()[family].eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        plain = net(x)
        model = TaskNet(net, (5, 2, 3)).eval()
        assert torch.allclose(model(x), plain, atol=1e-5)  # the run's own task: the model it wraps
        with all_tasks(model):
            assert model(x).shape == (3, 10)
    branched = [m for m in model.modules() if isinstance(m, TaskBatchNorm)]
    assert branched and all(len(m.branches) == 3 for m in branched)
    # convolutions stay one copy; only the branches' BN parameters and the two heads are new
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == len([m for m in _nets()[family].modules() if isinstance(m, torch.nn.Conv2d)])


def test_training_moves_each_tasks_bn_branch_apart_and_shares_the_convolutions() -> None:
    torch.manual_seed(0)
    model = TaskNet(timm.create_model("test_resnet", num_classes=3), (3, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y0, y1 = torch.randn(16, 3, 32, 32), torch.randint(0, 3, (16,)), torch.randint(0, 2, (16,))
    for _ in range(3):
        out = model(x)
        loss = F.cross_entropy(out[:, :3], y0) + F.cross_entropy(out[:, 3:], y1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    pairs = [m.branches for m in model.modules() if isinstance(m, TaskBatchNorm)]
    assert all(a.weight.data_ptr() != b.weight.data_ptr() for a, b in pairs)  # each task its own affine...
    assert sum(not torch.allclose(a.weight, b.weight) for a, b in pairs) >= len(pairs) // 2  # ...which it learns
    # statistics part where a branch's input does (those after the first BN of the stage; the
    # first ones and the shortcut's see the shared trunk's features)
    assert any(not torch.allclose(a.running_mean, b.running_mean) for a, b in pairs)
    model.eval()
    with torch.no_grad(), all_tasks(model):
        both = model(x)
    assert torch.allclose(both[:, :3], model(x), atol=1e-6)  # the own task's path is the same in both modes


def test_task_bn_off_shares_the_last_stage() -> None:
    model = TaskNet(timm.create_model("test_resnet", num_classes=3), (3, 2), task_bn=False)
    assert not any(isinstance(m, TaskBatchNorm) for m in model.modules())
    assert model.train()(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_unsupported_families_are_one_clear_line() -> None:
    with pytest.raises(HarnessError, match="a Sequential model has no known last stage"):
        TaskNet(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)), (3, 2))


def test_each_image_trains_only_the_tasks_it_is_labelled_for() -> None:
    names, sizes = ("coarse",), (2,)
    labels = np.array([0, -1, 1, 1])  # image 1 has no coarse label
    callback = TaskTargets(names, [labels], sizes)
    batch = Batch(torch.zeros(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]), torch.arange(4))
    batch = callback.on_batch(None, batch)  # type: ignore[arg-type]
    assert batch.extras[extra_key("coarse")].tolist() == [[1, 0], [0, 0], [0, 1], [0, 1]]
    logits = torch.randn(4, 5)
    loss = MultiTaskLoss(target_loss(F.cross_entropy), 3, names, sizes, (0.5,))(logits, batch)
    labelled = [0, 2, 3]
    expected = F.cross_entropy(logits[:, :3], batch.target) + 0.5 * F.cross_entropy(
        logits[labelled, 3:], torch.tensor([0, 1, 1]))
    assert torch.allclose(loss, expected)


def test_task_labels_and_their_clear_errors(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "comp")
    table = pd.read_csv(root / "train.csv")
    table["coarse"] = table["label"].map({"class_0": "x", "class_1": "y", "class_2": "y"})
    table.loc[0, "coarse"] = ""
    table.to_csv(root / "train.csv", index=False)
    comp = load_competition(DataConfig(root=str(root), tasks=("coarse",)))
    (task,) = comp.tasks
    assert task.classes == ("x", "y") and task.of(comp.train.ids[:2]).tolist() == [-1, 0]
    with pytest.raises(HarnessError, match=r"train\.csv: data\.tasks names column 'scene', which it lacks"):
        load_competition(DataConfig(root=str(root), tasks=("scene",)))
    folder = make_imagefolder(tmp_path / "folder")
    with pytest.raises(HarnessError, match="is an ImageFolder, with one label per image"):
        load_competition(DataConfig(root=str(folder), tasks=("scene",)))
    with pytest.raises(HarnessError, match="is a level of data.hierarchy, which is not set"):
        load_competition(DataConfig(root=str(folder), tasks=("level_1",)))
    tree = tmp_path / "h.csv"
    tree.write_text("child,parent\nclass_0,a\nclass_1,b\n")
    levels = load_competition(DataConfig(root=str(folder), hierarchy=str(tree), tasks=("level_1",)))
    assert levels.tasks[0].classes == ("a", "b")
    assert levels.tasks[0].of(levels.train.ids).tolist() == levels.train.labels.tolist()


@pytest.mark.slow
def test_a_multitask_run_predicts_and_exports_every_fold_as_it_ran(tmp_path: Path) -> None:
    root = make_kaggle_competition(tmp_path / "comp")
    table = pd.read_csv(root / "train.csv")
    table["coarse"] = table["label"].map({"class_0": "x", "class_1": "y", "class_2": "y"})
    table.to_csv(root / "train.csv", index=False)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=root) + '\n[tta]\nviews = ["identity", "hflip"]\n')
    run = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(run), "--set", "data.extension='.png'",
                 "--set", "data.tasks=['coarse']", "-q"]) == 0
    import json

    scores = json.loads((run / "metrics.json").read_text())["task_scores"]["coarse"]
    oof = pd.read_csv(run / "tasks" / "coarse_oof.csv")
    assert len(oof) == 30 and 0.0 <= scores["cv"] <= 1.0
    assert "Further tasks (multi-task heads)" in (run / "report.html").read_text()
    assert scores["cv"] == pytest.approx(float((oof[["x", "y"]].idxmax(axis=1) == oof["label"]).mean()))
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(root / "test"), "--out", str(out), "-q"]) == 0
    pred = pd.read_csv(out)
    submitted = pd.read_csv(run / "tasks" / "coarse_submission.csv")
    assert pred["coarse"].tolist() == submitted["label"].tolist()
    assert pred["label"].tolist() == pd.read_csv(run / "submission.csv")["label"].tolist()
    # A gate turns an image away from every task: predict --reject keeps the task columns
    assert main(["gate", str(run), "--by", "max_softmax", "--recall", "0.5"]) == 0
    gated_args = ["predict", str(run), str(root / "test"), "--reject", "--out", str(tmp_path / "gated.csv"), "-q"]
    assert main(gated_args) == 0
    gate = json.loads((run / "gate.json").read_text())  # a threshold inside the test images' scores: both cases
    gate["threshold"] = float(pd.read_csv(tmp_path / "gated.csv")["gate_score"].median())
    (run / "gate.json").write_text(json.dumps(gate))
    assert main(gated_args) == 0
    gated = pd.read_csv(tmp_path / "gated.csv")
    turned = (gated["label"] == "unknown").to_numpy()
    assert turned.any() and not turned.all()
    assert (gated["coarse"][turned] == "unknown").all() and (gated["coarse"][~turned] == pred["coarse"][~turned]).all()
    assert np.abs(gated[["coarse:x", "coarse:y"]].to_numpy() - pred[["coarse:x", "coarse:y"]].to_numpy()).max() < 1e-9
    # An ensemble carries the task too: the members' task probabilities, combined as their own task's
    run2 = tmp_path / "run2"
    assert main(["run", str(recipe), "--out", str(run2), "--set", "data.extension='.png'", "--set", "data.tasks=['coarse']",
                 "--set", "train.seed=1", "-q"]) == 0
    ens = tmp_path / "ens"
    assert main(["ensemble", str(run), str(run2), "--out", str(ens)]) == 0
    for table in ("coarse_oof.csv", "coarse_test_probs.csv"):
        members = [pd.read_csv(r / "tasks" / table).set_index("id")[["x", "y"]] for r in (run, run2)]
        mine = pd.read_csv(ens / "tasks" / table).set_index("id")
        assert np.abs(mine[["x", "y"]].to_numpy() - ((members[0] + members[1]) / 2).loc[mine.index].to_numpy()).max() < 1e-9
    mine = pd.read_csv(ens / "tasks" / "coarse_oof.csv")
    task_cv = json.loads((ens / "metrics.json").read_text())["task_scores"]["coarse"]["cv"]
    assert task_cv == pytest.approx(float((mine[["x", "y"]].idxmax(axis=1) == mine["label"]).mean()))
    assert (pd.read_csv(ens / "tasks" / "coarse_submission.csv")["label"]
            == pd.read_csv(ens / "tasks" / "coarse_test_probs.csv")[["x", "y"]].idxmax(axis=1)).all()
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return  # the export half needs harness[export], which scripts/setup.sh installs
    from harness.export.formats import onnx_session, read_metadata, run_onnx_all
    from harness.export.model import build_exportable, load_images
    from harness.plugin_manager import load_plugins

    assert main(["export", str(run), "--tta", "identity,hflip", "--input-dtype", "float32",
                 "--out", str(tmp_path / "mt.onnx"), "-q"]) == 0
    ex = build_exportable(run, load_plugins(), [0, 1], ["identity", "hflip"])
    images = load_images(sorted((root / "test").glob("*.png")), ex.transform)
    session = onnx_session(tmp_path / "mt.onnx")
    assert [o.name for o in session.get_outputs()] == ["probs", "probs_coarse"]
    ours, coarse = run_onnx_all(session, images.astype(np.float32), "float32")
    assert np.abs(ours - pred[["class_0", "class_1", "class_2"]].to_numpy()).max() < 1e-4
    assert np.abs(coarse - pred[["coarse:x", "coarse:y"]].to_numpy()).max() < 1e-4  # every task, as predict gives it
    assert json.loads(read_metadata(tmp_path / "mt.onnx")["tasks"]) == {"coarse": ["x", "y"]}
    # the gate attached above is not in the graph: the file says so and carries its settings
    meta = read_metadata(tmp_path / "mt.onnx")
    assert json.loads(meta["gate"]) == json.loads((run / "gate.json").read_text()) and meta["gate_applied"].startswith("no")


@pytest.mark.parametrize(("sets", "message"), [
    (["data.tasks=['scene']"], "train.csv: data.tasks names column 'scene', which it lacks"),
    (["data.hierarchy='{tmp}/cycle.csv'"], "cycle.csv: a cycle, "),
    (["data.hierarchy='{tmp}/partial.csv'"], "class(es) ['class_2'] of the competition have no parent"),
    (["data.outliers='{tmp}/empty'"], "empty holds no image files"),
])
def test_bad_labels_stop_harness_run_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     sets: list[str], message: str) -> None:
    root = make_kaggle_competition(tmp_path / "comp")
    (tmp_path / "cycle.csv").write_text("child,parent\nclass_0,g\nclass_1,g\nclass_2,g\ng,h\nh,g\n")
    (tmp_path / "partial.csv").write_text("child,parent\nclass_0,g\nclass_1,g\n")
    (tmp_path / "empty").mkdir()
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=root))
    args = [a for s in sets for a in ("--set", s.format(tmp=tmp_path))]
    assert main(["run", str(recipe), "--out", str(tmp_path / "run"), "--set", "data.extension='.png'", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "run" / "fold0").exists()


def test_a_member_task_table_without_the_ensembles_rows_is_one_clear_error(tmp_path: Path) -> None:
    from harness.ensemble.tasks import _read
    from harness.errors import HarnessError

    table = tmp_path / "coarse_oof.csv"
    pd.DataFrame({"id": ["a", "b"], "label": ["x", "y"], "x": [0.9, 0.2], "y": [0.1, 0.8]}).to_csv(table, index=False)
    probs, y = _read(table, "id", ["b", "a"], ("x", "y"))
    assert probs.tolist() == [[0.2, 0.8], [0.9, 0.1]] and y.tolist() == [1, 0]
    with pytest.raises(HarnessError, match=r"coarse_oof.csv lacks 1 of the ensemble's rows, such as 'c'"):
        _read(table, "id", ["a", "c"], ("x", "y"))
