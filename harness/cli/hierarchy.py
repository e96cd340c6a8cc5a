"""`harness hierarchy`: a run's predictions at every level of its label hierarchy, consistent
(a leaf implies its parents), scored per level, and a submission at the level asked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "predictions at every level of a label hierarchy: a leaf run, or a trunk run routed to branch runs"
EXAMPLES = """examples:
  harness hierarchy runs/cifar10_leaves                      # a run with data.hierarchy set
  harness hierarchy runs/trunk --branch runs/vehicle --branch runs/animal --level 1
A trunk run has data.level = 1; a branch run data.branch = NODE (the leaves under NODE, from
its images alone); all name the same data.hierarchy, a CSV of child,parent rows:
  harness run recipes/cifar10_hierarchy.toml --set data.level=1 --out runs/trunk
  harness run recipes/cifar10_hierarchy.toml --set data.branch=vehicle --out runs/vehicle
Writes OUT/levels.json (accuracy per level, OOF and holdout; also OUT/metrics.json's
level_accuracy, as a leaf run writes it), OUT/SET_levels.csv (every level's
label per image) and OUT/submission.csv (id, label at --level; default: the leaves).
OUT defaults to RUN/hierarchy."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hierarchy", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a finished leaf run, or the trunk run (data.level = 1)")
    p.add_argument("--branch", type=Path, action="append", default=[], metavar="RUN",
                   help="a branch run (data.branch = NODE), one per trunk node")
    p.add_argument("--file", type=Path, default=None, help="the hierarchy CSV (default: the run's data.hierarchy)")
    p.add_argument("--level", type=int, default=0, help="the submission's level: 1 the trunk, 0 the leaves (default)")
    p.add_argument("--out", type=Path, default=None, help="the output folder (default: RUN/hierarchy)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.ensemble.run_probs import read_run_probs
    from harness.hierarchy.combine import level_accuracy, route, view_leaf_run
    from harness.outputs.manifest import read_manifest
    from harness.outputs.run_hierarchy import branch_runs, hierarchy_file, routed_leaves, run_tree

    file = hierarchy_file(args.run_dir, args.file)
    manifest = read_manifest(args.run_dir)
    main = read_run_probs(args.run_dir)
    if args.branch:
        branches = {node: read_run_probs(b) for node, b in branch_runs(args.run_dir, args.branch, main.classes).items()}
        tree = run_tree(args.run_dir, file, routed_leaves(main.classes, {n: r.classes for n, r in branches.items()}))
        predicted = route(tree, main, branches)
        # an image's leaf is in the OOF or holdout of its own branch, the only run that holds it
        truth: dict[str, pd.Series] = {}
        for s in ("oof", "holdout"):
            held = [r.labels[s] for r in branches.values() if s in r.labels]
            if held and s in predicted:
                truth[s] = pd.concat(held)
    else:
        tree = run_tree(args.run_dir, file, manifest.classes)
        predicted = view_leaf_run(tree, main)
        truth = dict(main.labels)
    tree.check_level(args.level, "--level")
    out = args.out or args.run_dir / "hierarchy"
    out.mkdir(parents=True, exist_ok=True)
    scores = {s: level_accuracy(tree, predicted[s], y) for s, y in truth.items() if s in predicted}
    (out / "levels.json").write_text(json.dumps({"hierarchy": file, "accuracy": scores}, indent=1) + "\n")
    routed = {"routed_from": [str(p.resolve()) for p in (args.run_dir, *args.branch)]} if args.branch else {}
    (out / "metrics.json").write_text(json.dumps({"level_accuracy": scores, **routed}, indent=1) + "\n")
    for s, table in predicted.items():
        frame = table.rename_axis(manifest.id_column).reset_index()
        if s in truth:
            frame["true_leaf"] = truth[s].reindex(table.index).fillna("").to_numpy()
        frame.to_csv(out / f"{s}_levels.csv", index=False)
    level = "leaf" if args.level in (0, tree.depth) else f"level_{args.level}"
    submit = "test" if "test" in predicted else "holdout"
    if submit in predicted:
        sub = predicted[submit][[level]].rename(columns={level: "label"}).rename_axis(manifest.id_column)
        sub.reset_index().to_csv(out / "submission.csv", index=False)
    for s, per_level in scores.items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in per_level.items())
        print(f"{s} accuracy: {shown}", file=sys.stderr)
    print(f"{len(tree.leaves)} leaves, {tree.depth} levels -> {out}", file=sys.stderr)
    return 0
