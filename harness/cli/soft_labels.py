"""`harness soft-labels`: a finished run's fold models predict the rows each trained on, so that
distilling from its stored predictions keeps the student's CV honest."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.predict import fold_list

HELP = "store a run's fold-safe soft labels: each fold model's predictions of its own training rows"
EXAMPLES = """examples:
  harness soft-labels runs/teacher
  harness soft-labels runs/teacher --folds 0
then distill from them, with no forward pass of the teacher:
  [callbacks.teacher]
  source = "soft_labels"
  run = "runs/teacher"          # rows = "auto" (or "fold") uses them
Each fold k writes fold{k}/in_sample.npz: its model's logits (every TTA view) of every training
row outside fold k. Student fold k validates on fold k's labels, which that model alone never saw;
without these files a stored teacher gives each row its out-of-fold prediction, made by a model
that trained on fold k, and the student's CV reads high. The run's data.root must still hold its
training images."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("soft-labels", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a finished run folder (with run.json), the teacher")
    p.add_argument("--folds", type=fold_list, default=None, help="folds to predict, e.g. 0,1 (default: every trained fold)")


def run(args: argparse.Namespace) -> int:
    import sys

    from accelerate import PartialState

    from harness.console import progress_bar
    from harness.plugin_manager import load_plugins
    from harness.predict.folds import chosen_folds, run_manifest
    from harness.predict.in_sample import write_soft_labels

    chosen_folds(run_manifest(args.run_dir), args.folds)  # the clear errors first
    main = PartialState().is_main_process
    with progress_bar(main) as bar:
        task = bar.add_task("soft labels", total=None)

        def started(fold: int, rows: int) -> None:
            bar.reset(task, total=rows, description=f"fold {fold}")

        written = write_soft_labels(args.run_dir, load_plugins(), args.folds, lambda n: bar.advance(task, n), started)
    if main:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    return 0
