"""`harness predict`: new images through a finished run's folds and TTA views, without its
training data."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError

HELP = "predict new images with a finished run's folds (no training data needed)"
EXAMPLES = """examples:
  harness predict runs/lite0_finetune photos/ --out preds.csv
  harness predict runs/lite0_finetune photos/ --folds 0,1 --tta identity --out preds.csv
  harness predict runs/digits a.png b.png --out preds.csv
  harness predict runs/cifar10 photos/ --reject --out preds.csv   # after `harness gate runs/cifar10 ...`
  harness predict runs/trunk photos/ --branch runs/vehicle --branch runs/animal --out preds.csv
The CSV has id (the path relative to the folder given), label (the predicted class) and one
probability column per class: the folds' average of the TTA views ensembled as the run did.
With --reject, the run's gate (gate.json) sees each image first: label is its unknown label for
an image it turns away, gate_score is the gate's score, and a gate run's turned-away images are
never shown to the main run (their probabilities are left empty).
With --branch, RUN_DIR is a trunk run (data.level = 1) and each image goes on to the branch run of
the node the trunk picks: label is that branch's leaf, level_K its node at every level, then the
trunk's probabilities (level_1:NODE) and the branch's per leaf (empty for the other branches')."""


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def fold_list(text: str) -> list[int]:
    """--folds: comma-separated fold numbers."""
    try:
        return [int(x) for x in _names(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected fold numbers such as 0,1; got {text!r}") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a finished run folder (with run.json)")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGES_OR_DIR", help="image files or folders (recursive)")
    p.add_argument("--out", type=Path, required=True, help="the CSV to write")
    p.add_argument("--folds", type=fold_list, default=None, help="folds to average, e.g. 0,1 (default: every trained fold)")
    p.add_argument("--tta", type=_names, default=None, metavar="VIEW,...",
                   help="TTA views, e.g. identity,hflip (default: the run's views)")
    p.add_argument("--reject", action="store_true",
                   help="turn away unknown images with the run's gate (attach one with `harness gate`)")
    p.add_argument("--branch", type=Path, action="append", default=[], metavar="RUN",
                   help="route through RUN_DIR as a trunk run to this branch run (data.branch = NODE), one per node")
    p.add_argument("--file", type=Path, default=None,
                   help="with --branch: the hierarchy CSV (default: the trunk's data.hierarchy)")


def run(args: argparse.Namespace) -> int:
    import sys

    from accelerate import PartialState

    from harness.console import progress_bar
    from harness.plugin_manager import load_plugins
    from harness.predict import check_readable, collect, predict_run
    from harness.predict.folds import chosen_folds, run_manifest

    if args.out.is_dir():
        raise HarnessError(f"--out {args.out} is a folder; give a CSV file name")
    manifest = run_manifest(args.run_dir)  # the clear errors first, before any image is read
    folds = chosen_folds(manifest, args.folds)
    branches: dict[str, Path] = {}
    if args.branch:
        from harness.outputs.run_hierarchy import branch_runs, hierarchy_file

        if args.reject or args.folds or args.tta:
            raise HarnessError("--branch predicts with every fold and view of each run, without a gate: drop "
                               "--reject, --folds and --tta (or predict each run on its own)")
        hierarchy = hierarchy_file(args.run_dir, args.file)
        branches = branch_runs(args.run_dir, args.branch, manifest.classes)
        for b in branches.values():
            run_manifest(b)
    gate = None
    if args.reject:
        from harness.gate.attach import read_gate

        gate = read_gate(args.run_dir)  # no gate: the error before any image is read
        if gate.run:
            chosen_folds(run_manifest(Path(gate.run)), None)
    split = collect(args.images)
    check_readable(split)
    plugins = load_plugins()
    main = PartialState().is_main_process
    with progress_bar(main) as bar:
        if branches:
            from harness.predict.routed import predict_routed

            task = bar.add_task("predicting", total=None)
            frame = predict_routed(args.run_dir, branches, hierarchy, split, plugins, lambda n: bar.advance(task, n))
            done = f"routed by the trunk to {len(branches)} branch runs"
        elif gate is None:
            task = bar.add_task("predicting", total=len(split) * len(folds))
            pred = predict_run(args.run_dir, split, plugins, folds, args.tta, lambda n: bar.advance(task, n))
            frame, done = pred.frame(), f"folds {', '.join(map(str, pred.folds))}, views {', '.join(pred.views)}"
        else:
            from harness.gate.predict import predict_gated

            task = bar.add_task("predicting", total=None)
            frame, gate = predict_gated(args.run_dir, split, plugins, folds, args.tta, lambda n: bar.advance(task, n))
            turned = int((frame["label"] == gate.unknown_label).sum())
            done = f"{turned} turned away as {gate.unknown_label!r} by the gate ({gate.by})"
    if main:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, index=False)
        print(f"{len(frame)} image(s), {done} -> {args.out}", file=sys.stderr)
    return 0
