"""Label hierarchies: the tree file and its clear errors, training at a level or on a branch, and
predictions that are consistent at every level (a leaf implies its parents), from a leaf run and
from a trunk run routed to branch runs, through the real CLI on tiny real runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.config.schema import DataConfig
from harness.data.competition import load_competition
from harness.errors import HarnessError
from harness.hierarchy.combine import RunProbs, expand, level_accuracy, route, view_leaf_run
from harness.hierarchy.tree import read_hierarchy
from harness.testing import make_imagefolder, make_kaggle_competition

from .conftest import TINY

# Three levels, leaves at two depths: A -> {A1 -> {a, b}, A2 -> {c}}, B -> {d, e}
TOY = "child,parent\na,A1\nb,A1\nc,A2\nA1,A\nA2,A\nd,B\ne,B\n"
LEAVES = ("a", "b", "c", "d", "e")


def _file(tmp_path: Path, text: str, name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_three_level_tree_with_leaves_at_two_depths(tmp_path: Path) -> None:
    tree = read_hierarchy(_file(tmp_path, TOY), LEAVES)
    assert tree.depth == 3 and tree.path("b") == ("A", "A1", "b") and tree.path("d") == ("B", "d")
    assert tree.nodes(1) == ("A", "B") and tree.nodes(2) == ("A1", "A2", "d", "e") and tree.nodes(0) == LEAVES
    assert tree.ancestor("d", 2) == "d" and tree.ancestor("c", 1) == "A" and tree.under("A") == ("a", "b", "c")


@pytest.mark.parametrize(("text", "message"), [
    ("kid,parent\na,A\n", "missing column(s) ['child']"),
    (TOY + "a,B\n", "'a' has two parents, 'A1' and 'B'"),
    (TOY.replace("A1,A", "A1,a2") + "a2,A1\n", "a cycle, "),
    (TOY.replace("e,B\n", ""), "class(es) ['e'] of the competition have no parent"),
    (TOY + "f,B\n", "leaf node(s) ['f'] are not classes"),
    (TOY + "x,a\n", "are also parents"),
    ("child,parent\na,a\n", "'a' is its own parent"),
])
def test_bad_hierarchy_files_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(HarnessError, match="^" + str(path).replace(".", r"\.")) as err:
        read_hierarchy(path, LEAVES)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(HarnessError, match="is not a file"):
        read_hierarchy(tmp_path / "missing.csv", LEAVES)


def _four_class(tmp_path: Path) -> tuple[Path, Path]:
    root = make_imagefolder(tmp_path / "comp", classes=4, per_class=6, val_per_class=3, size=16)
    tree = _file(tmp_path, "child,parent\nclass_0,g0\nclass_1,g0\nclass_2,g1\nclass_3,g1\n")
    return root, tree


def test_a_level_relabels_and_a_branch_keeps_its_own_images(tmp_path: Path) -> None:
    root, tree = _four_class(tmp_path)
    leaves = load_competition(DataConfig(root=str(root), hierarchy=str(tree)))
    trunk = load_competition(DataConfig(root=str(root), hierarchy=str(tree), level=1))
    branch = load_competition(DataConfig(root=str(root), hierarchy=str(tree), branch="g1"))
    assert leaves.classes == ("class_0", "class_1", "class_2", "class_3") and trunk.classes == ("g0", "g1")
    assert trunk.train.ids == leaves.train.ids and (trunk.train.labels == leaves.train.labels // 2).all()
    assert branch.classes == ("class_2", "class_3") and len(branch.train) == 12 and branch.holdout is not None
    assert all(i.split("/")[1] in branch.classes for i in branch.train.ids + branch.holdout.ids)
    for cfg, message in [(DataConfig(root=str(root), level=1), "data.level needs data.hierarchy"),
                         (DataConfig(root=str(root), hierarchy=str(tree), branch="class_2"), "not an inner node"),
                         (DataConfig(root=str(root), hierarchy=str(tree), level=3), "has levels 1 to 2"),
                         (DataConfig(root=str(root), hierarchy=str(tree), level=1, branch="g0"), "exclusive")]:
        with pytest.raises(HarnessError, match=message):
            load_competition(cfg)


def test_predictions_are_consistent_at_every_level(tmp_path: Path) -> None:
    tree = read_hierarchy(_file(tmp_path, TOY), LEAVES)
    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(200)]
    leaf = RunProbs(LEAVES, {"test": pd.DataFrame(rng.dirichlet(np.ones(5), 200), index=ids, columns=list(LEAVES))}, {})
    trunk = RunProbs(("A", "B"), {"test": pd.DataFrame(rng.dirichlet(np.ones(2), 200), index=ids, columns=["A", "B"])},
                     {})
    branches = {"A": RunProbs(("a", "b", "c"), {"test": pd.DataFrame(rng.dirichlet(np.ones(3), 200), index=ids,
                                                                     columns=list("abc"))}, {}),
                "B": RunProbs(("d", "e"), {"test": pd.DataFrame(rng.dirichlet(np.ones(2), 200), index=ids,
                                                                columns=list("de"))}, {})}
    for table in (view_leaf_run(tree, leaf)["test"], route(tree, trunk, branches)["test"]):
        for _, row in table.iterrows():
            path = tree.path(row["leaf"])
            assert row["level_1"] == path[0] and row["level_2"] == (path[1] if len(path) > 2 else row["leaf"])
    routed = route(tree, trunk, branches)["test"]
    assert (routed["level_1"] == trunk.probs["test"].idxmax(axis=1)).all()
    assert expand(tree, pd.Series(["c"])).iloc[0].tolist() == ["A", "A2", "c"]
    with pytest.raises(HarnessError, match=r"node\(s\) \['B'\] have no branch run"):
        route(tree, trunk, {"A": branches["A"]})


@pytest.mark.slow
def test_leaf_run_and_trunk_with_branches_score_every_level(tmp_path: Path) -> None:
    root, tree = _four_class(tmp_path)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=root) + '\n[tta]\nviews = ["identity", "hflip"]\n')
    base = [str(recipe), "--set", f"data.hierarchy='{tree}'", "-q"]
    runs = {"leaf": ["--set", "ensemble.name='geometric'"], "trunk": ["--set", "data.level=1"],
            "g0": ["--set", "data.branch='g0'"],
            "g1": ["--set", "data.branch='g1'"]}
    for name, sets in runs.items():
        assert main(["run", *base, *sets, "--out", str(tmp_path / name)]) == 0
    levels = json.loads((tmp_path / "leaf" / "metrics.json").read_text())["level_accuracy"]
    for scores in levels.values():  # a correct leaf implies a correct parent
        assert scores["level_1"] >= scores["leaf"]
    holdout = json.loads((tmp_path / "leaf" / "metrics.json").read_text())["holdout_score"]
    assert levels["holdout"]["leaf"] == pytest.approx(holdout)
    assert "Accuracy at every level of the hierarchy" in (tmp_path / "leaf" / "report.html").read_text()
    assert main(["hierarchy", str(tmp_path / "leaf")]) == 0
    from harness.ensemble.run_probs import read_run_probs  # the run's own pooling (geometric), as it wrote them

    written = pd.read_csv(tmp_path / "leaf" / "holdout.csv").set_index("id")
    read = read_run_probs(tmp_path / "leaf").probs["holdout"].loc[written.index]
    assert np.abs(read.to_numpy() - written[list(read.columns)].to_numpy()).max() < 1e-6
    assert json.loads((tmp_path / "leaf" / "hierarchy" / "levels.json").read_text())["accuracy"] == levels

    out = tmp_path / "routed"
    assert main(["hierarchy", str(tmp_path / "trunk"), "--branch", str(tmp_path / "g0"), "--branch",
                 str(tmp_path / "g1"), "--level", "1", "--out", str(out)]) == 0
    routed_sets = json.loads((out / "levels.json").read_text())["accuracy"]
    assert set(routed_sets) == {"oof", "holdout"} and routed_sets["oof"]["level_1"] >= routed_sets["oof"]["leaf"]
    routed_metrics = json.loads((out / "metrics.json").read_text())
    assert routed_metrics["level_accuracy"] == routed_sets and len(routed_metrics["routed_from"]) == 3
    routed = routed_sets["holdout"]
    trunk = json.loads((tmp_path / "trunk" / "metrics.json").read_text())["holdout_score"]
    assert routed["level_1"] == pytest.approx(trunk)  # routing keeps the trunk's pick
    table = pd.read_csv(out / "holdout_levels.csv", keep_default_na=False)
    right_trunk = table["level_1"] == table["true_leaf"].map({f"class_{k}": f"g{k // 2}" for k in range(4)})
    assert routed["leaf"] == pytest.approx(float((right_trunk & (table["leaf"] == table["true_leaf"])).mean()))
    assert (table.loc[~right_trunk, "leaf"] == "").all()  # misrouted: no branch holds the image
    sub = pd.read_csv(out / "submission.csv")
    assert sub["label"].tolist() == table["level_1"].tolist() and len(sub) == 12
    # New images routed the same way: harness predict through the trunk to its branches
    pred_csv = tmp_path / "routed.csv"
    assert main(["predict", str(tmp_path / "trunk"), str(root / "val"), "--branch", str(tmp_path / "g0"), "--branch",
                 str(tmp_path / "g1"), "--out", str(pred_csv), "-q"]) == 0
    pred = pd.read_csv(pred_csv, keep_default_na=False).assign(id=lambda f: "val/" + f["id"]).set_index("id")
    mine = table.set_index("id").loc[pred.index]
    assert pred["level_1"].tolist() == mine["level_1"].tolist()  # the trunk's pick, as routed above
    held = mine["leaf"] != ""  # where the routed branch held the image, the same leaf
    assert held.any() and pred.loc[held.to_numpy(), "label"].tolist() == mine.loc[held, "leaf"].tolist()
    assert (pred["label"].map({f"class_{k}": f"g{k // 2}" for k in range(4)}) == pred["level_1"]).all()
    assert main(["predict", str(tmp_path / "trunk"), str(root / "val"), "--branch", str(tmp_path / "g0"),
                 "--out", str(pred_csv)]) == 2  # a trunk node without its branch: one clear line
    # Ensembles of trunk runs route to ensembles of branch runs as the runs do
    for name in ("trunk", "g0", "g1"):
        assert main(["ensemble", str(tmp_path / name), "--out", str(tmp_path / f"ens_{name}")]) == 0
    assert main(["hierarchy", str(tmp_path / "ens_trunk"), "--branch", str(tmp_path / "ens_g0"), "--branch",
                 str(tmp_path / "ens_g1"), "--level", "1", "--out", str(tmp_path / "ens_routed")]) == 0
    ens_routed = json.loads((tmp_path / "ens_routed" / "levels.json").read_text())["accuracy"]
    assert ens_routed.keys() == routed_sets.keys()
    for s, per_level in routed_sets.items():
        assert ens_routed[s] == pytest.approx(per_level)


def test_the_three_level_toy_is_the_tree_file_as_folders(tmp_path: Path) -> None:
    from harness.hierarchy.folders import load_tree
    from harness.testing import TREE_TOY, make_tree_toy

    root = make_tree_toy(tmp_path / "toy", per_class=2, val_per_class=1, size=8)
    comp = load_competition(DataConfig(root=str(root), hierarchy="folders"))
    tree = load_tree("folders", root, "train", comp.classes)
    assert comp.classes == LEAVES == tuple(TREE_TOY) and tree.depth == 3
    assert tree.parent == read_hierarchy(_file(tmp_path, TOY), LEAVES).parent
    assert len(comp.train) == 10 and comp.holdout is not None and len(comp.holdout) == 5
    trunk = load_competition(DataConfig(root=str(root), hierarchy="folders", level=1))
    assert trunk.classes == ("A", "B") and trunk.train.labels.tolist() == [0] * 6 + [1] * 4


def _nested(root: Path, layout: dict[str, str]) -> Path:
    """layout: 'vehicle/car' -> one PNG per split under train/ and val/."""
    from PIL import Image

    for split in ("train", "val"):
        for k, rel in enumerate(layout):
            for j in range(2):
                path = root / split / rel / f"{split}{k}_{j}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8), (40 * k, 0, 0)).save(path)
    return root


def test_folder_nesting_is_a_hierarchy(tmp_path: Path) -> None:
    root = _nested(tmp_path / "nested", {"vehicle/car": "", "vehicle/boat": "", "animal/cat": ""})
    leaves = load_competition(DataConfig(root=str(root), hierarchy="folders"))
    assert leaves.classes == ("boat", "car", "cat") and leaves.holdout is not None
    assert leaves.train.ids[0] == "train/animal/cat/train2_0.png" and leaves.train.labels.tolist() == [2, 2, 0, 0, 1, 1]
    trunk = load_competition(DataConfig(root=str(root), hierarchy="folders", level=1))
    assert trunk.classes == ("vehicle", "animal") and trunk.train.labels.tolist() == [1, 1, 0, 0, 0, 0]
    branch = load_competition(DataConfig(root=str(root), hierarchy="folders", branch="vehicle"))
    assert branch.classes == ("boat", "car") and len(branch.train) == 4 and len(branch.holdout) == 4
    (root / "train" / "animal" / "stray.png").write_bytes((root / "train" / "animal" / "cat" / "train2_0.png").read_bytes())
    with pytest.raises(HarnessError, match="holds both images and class folders"):
        load_competition(DataConfig(root=str(root), hierarchy="folders"))
    twice = _nested(tmp_path / "twice", {"a/x": "", "b/x": ""})
    with pytest.raises(HarnessError, match="two folders are named 'x'"):
        load_competition(DataConfig(root=str(twice), hierarchy="folders"))


def test_an_ensemble_is_read_at_every_level_with_the_file_given(tmp_path: Path) -> None:
    from .test_ensemble import Y, logits, write_run

    a = write_run(tmp_path / "A", {"identity": logits(Y, 1.6, 1)}, seed=1)
    b = write_run(tmp_path / "B", {"identity": logits(Y, 1.6, 3)}, seed=2)
    ens = tmp_path / "ens"
    assert main(["ensemble", str(a), str(b), "--out", str(ens)]) == 0
    tree = _file(tmp_path, "child,parent\na,X\nb,X\nc,Y\n")
    assert main(["hierarchy", str(ens)]) == 2  # an ensemble folder names no hierarchy
    assert main(["hierarchy", str(ens), "--file", str(tree), "--level", "1"]) == 0
    scores = json.loads((ens / "hierarchy" / "levels.json").read_text())["accuracy"]["oof"]
    oof = pd.read_csv(ens / "oof.csv")
    leaf = oof[["a", "b", "c"]].idxmax(axis=1)
    assert scores["leaf"] == pytest.approx(float((leaf == oof["label"]).mean()))
    parent = {"a": "X", "b": "X", "c": "Y"}
    assert scores["level_1"] == pytest.approx(float((leaf.map(parent) == oof["label"].map(parent)).mean()))
    assert set(pd.read_csv(ens / "hierarchy" / "submission.csv")["label"]) <= {"X", "Y"}


def test_level_labels_follow_the_top_leaf_whatever_a_level_head_says(tmp_path: Path) -> None:
    from harness.hierarchy.levels import level_scores, levels_extra, run_levels, tree_levels
    from harness.outputs.labels import add_label_columns, labels_of, task_labels

    tree = read_hierarchy(_file(tmp_path, TOY), LEAVES)
    levels = tree_levels(tree)
    back = run_levels({"levels": json.loads(json.dumps(levels_extra(levels)))})  # run.json round trip
    assert back.keys() == levels.keys() and all(back[k][0] == v[0] and (back[k][1] == v[1]).all()
                                                for k, v in levels.items())
    rng = np.random.default_rng(1)
    leaf, head = rng.dirichlet(np.ones(5), 300), rng.dirichlet(np.ones(2), 300)  # a level head of its own mind
    top = [LEAVES[i] for i in leaf.argmax(axis=1)]
    followed = task_labels("level_1", ("A", "B"), head, levels, leaf)
    assert followed == [tree.path(x)[0] for x in top]  # a leaf implies its parents
    assert followed != labels_of(head, ("A", "B"))  # the head alone would have disagreed somewhere
    assert task_labels("coarse", ("A", "B"), head, levels, leaf) == labels_of(head, ("A", "B"))  # not a level
    accepted = np.arange(300) % 3 > 0
    df = pd.DataFrame({"label": labels_of(leaf, LEAVES, accepted, "unknown")})
    add_label_columns(df, leaf, {"level_1": (("A", "B"), head)}, levels, accepted, "unknown")
    for _, row in df.iterrows():
        if row["label"] == "unknown":
            assert row["level_1"] == row["level_2"] == "unknown"
        else:
            path = tree.path(row["label"])
            assert row["level_1"] == path[0] and row["level_2"] == (path[1] if len(path) > 2 else row["label"])
    assert list(df.columns) == ["label", "level_1", "level_2", "level_1:A", "level_1:B"]
    y = rng.integers(0, 5, 300)
    y[:10] = -1  # unlabelled rows are left out
    scores = level_scores(levels, y, leaf)
    truth = pd.Series([LEAVES[i] for i in y[10:]])
    expected = level_accuracy(tree, expand(tree, pd.Series(top[10:])), truth)
    assert scores == pytest.approx(expected)
    with pytest.raises(HarnessError, match="the run's files disagree"):
        task_labels("level_1", ("B", "A"), head, levels, leaf)


@pytest.mark.slow
def test_a_run_with_level_heads_labels_every_level_off_its_leaf(tmp_path: Path) -> None:
    import importlib.util

    root = make_kaggle_competition(tmp_path / "comp")
    tree = _file(tmp_path, "child,parent\nclass_0,x\nclass_1,y\nclass_2,y\n")
    parent = {"class_0": "x", "class_1": "y", "class_2": "y"}
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(root=root) + '\n[tta]\nviews = ["identity", "hflip"]\n')
    runs = [tmp_path / f"run{seed}" for seed in (0, 1)]
    for seed, run in enumerate(runs):
        assert main(["run", str(recipe), "--out", str(run), "--set", "data.extension='.png'", "--set",
                     f"data.hierarchy='{tree}'", "--set", "data.tasks=['level_1']", "--set", f"train.seed={seed}",
                     "-q"]) == 0
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["level_accuracy"]["oof"]) == {"level_1", "leaf"} and "level_1" in metrics["task_scores"]
    assert metrics["level_accuracy"]["oof"]["leaf"] == pytest.approx(metrics["cv_score"])
    sub = pd.read_csv(run / "submission.csv")
    level_sub = pd.read_csv(run / "tasks" / "level_1_submission.csv")
    assert level_sub["label"].tolist() == sub["label"].map(parent).tolist()
    pred_csv = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(root / "test"), "--out", str(pred_csv), "-q"]) == 0
    pred = pd.read_csv(pred_csv)
    assert pred["level_1"].tolist() == pred["label"].map(parent).tolist() == level_sub["label"].tolist()
    assert {"level_1:x", "level_1:y"} <= set(pred.columns)  # the head's own probabilities stay
    ens = tmp_path / "ens"
    assert main(["ensemble", *map(str, runs), "--out", str(ens)]) == 0
    ens_metrics = json.loads((ens / "metrics.json").read_text())
    assert ens_metrics["level_accuracy"]["oof"]["leaf"] == pytest.approx(ens_metrics["cv_score"])
    ens_sub = pd.read_csv(ens / "submission.csv")
    assert (pd.read_csv(ens / "tasks" / "level_1_submission.csv")["label"].tolist()
            == ens_sub["label"].map(parent).tolist())
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return  # the export half needs harness[export], which scripts/setup.sh installs
    from harness.export.formats import read_metadata

    assert main(["export", str(run), "--out", str(tmp_path / "h.onnx"), "-q"]) == 0
    meta = read_metadata(tmp_path / "h.onnx")
    assert json.loads(meta["levels"]) == {"level_1": {"nodes": ["x", "y"], "of_leaf": [0, 1, 1]}}
