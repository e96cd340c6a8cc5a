"""`harness gate`: attach a gate to a finished run, so that images unlike its training set are
answered with an unknown label instead of a class."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "attach a gate that turns away unknown images to a finished run (threshold from its OOF)"
EXAMPLES = """examples:
  harness gate runs/cifar10 --by max_softmax                 # the main run's own confidence
  harness gate runs/cifar10 --by energy --recall 0.99
  harness gate runs/cifar10 --by runs/cifar10_gate --unknown-label other   # a gate run
A gate run is a run of the same recipe with data.outliers = "FOLDER" (out-of-domain photos):
  harness run recipes/cifar10.toml --set data.outliers=photos/other --out runs/cifar10_gate
Writes RUN/gate.json (the threshold that keeps --recall of the OOF images), RUN/gate.png, and
RUN/submission_gated.csv (submission.csv with the turned-away images labelled unknown).
`harness predict RUN IMAGES --reject` then gates new images the same way."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="the finished main run")
    p.add_argument("--by", required=True, metavar="SCORE_OR_RUN",
                   help="max_softmax or energy (the main run's logits), or a gate run's folder")
    p.add_argument("--recall", type=float, default=0.95,
                   help="the share of in-domain images to accept, measured on OOF (default 0.95)")
    p.add_argument("--unknown-label", default="unknown", help="the label of a turned-away image (default unknown)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from harness.gate.attach import GATE_FILE, GATED_SUBMISSION, fit_gate, gated_submission
    from harness.gate.plot import gate_histogram

    gate, scored = fit_gate(args.run_dir, args.by, args.recall, args.unknown_label)
    gate.write(args.run_dir)
    out = sys.stderr
    print(f"threshold {gate.threshold:.6g}: accepts {gate.oof_recall:.4f} of {gate.oof_images} OOF in-domain images "
          f"(asked {gate.recall:g})", file=out)
    if "holdout" in scored.sets:
        kept = float(np.mean(gate.accepts(scored.sets["holdout"].to_numpy())))
        print(f"holdout (in-domain): accepts {kept:.4f} of {len(scored.sets['holdout'])}", file=out)
    submitted = scored.sets.get("test", scored.sets.get("holdout"))  # the set submission.csv holds
    if submitted is not None and (args.run_dir / "submission.csv").is_file():
        sub, rejected = gated_submission(args.run_dir, gate, submitted)
        sub.to_csv(args.run_dir / GATED_SUBMISSION, index=False)
        print(f"submission: {rejected} of {len(sub)} image(s) labelled {gate.unknown_label!r} -> "
              f"{args.run_dir / GATED_SUBMISSION}", file=out)
    gate_histogram(gate, scored.oof, {k: v.to_numpy() for k, v in scored.sets.items()}, args.run_dir / "gate.png")
    print(f"gate ({gate.by}) -> {args.run_dir / GATE_FILE}", file=out)
    return 0
