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
from harness.hierarchy.combine import RunProbs, expand, route, view_leaf_run
from harness.hierarchy.tree import read_hierarchy
from harness.testing import make_imagefolder

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
    runs = {"leaf": [], "trunk": ["--set", "data.level=1"], "g0": ["--set", "data.branch='g0'"],
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
    assert json.loads((tmp_path / "leaf" / "hierarchy" / "levels.json").read_text())["accuracy"] == levels

    out = tmp_path / "routed"
    assert main(["hierarchy", str(tmp_path / "trunk"), "--branch", str(tmp_path / "g0"), "--branch",
                 str(tmp_path / "g1"), "--level", "1", "--out", str(out)]) == 0
    routed_sets = json.loads((out / "levels.json").read_text())["accuracy"]
    assert set(routed_sets) == {"oof", "holdout"} and routed_sets["oof"]["level_1"] >= routed_sets["oof"]["leaf"]
    routed = routed_sets["holdout"]
    trunk = json.loads((tmp_path / "trunk" / "metrics.json").read_text())["holdout_score"]
    assert routed["level_1"] == pytest.approx(trunk)  # routing keeps the trunk's pick
    table = pd.read_csv(out / "holdout_levels.csv", keep_default_na=False)
    right_trunk = table["level_1"] == table["true_leaf"].map({f"class_{k}": f"g{k // 2}" for k in range(4)})
    assert routed["leaf"] == pytest.approx(float((right_trunk & (table["leaf"] == table["true_leaf"])).mean()))
    assert (table.loc[~right_trunk, "leaf"] == "").all()  # misrouted: no branch holds the image
    sub = pd.read_csv(out / "submission.csv")
    assert sub["label"].tolist() == table["level_1"].tolist() and len(sub) == 12


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
