"""`harness submit`: validate a submission, score it on the hidden answer key and record it."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score a submission against a competition's hidden answer key"
EXAMPLES = """examples:
  harness submit runs/digits/submission.csv --competition digits --message "baseline"
  harness submit sub.csv --competition hymenoptera --board leaderboard   # a curated row

Prints the public score; the private score is stored, and shown by `harness leaderboard NAME --final`."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submission", type=Path, help="the submission CSV")
    p.add_argument("--competition", required=True, help="the competition's name")
    p.add_argument("--message", default="", help="a note shown on the leaderboard")
    p.add_argument("--board", type=Path, default=None,
                   help="the board folder (default: $HARNESS_LEADERBOARD, else runs/leaderboard)")


def run(args: argparse.Namespace) -> int:
    from harness.leaderboard.registry import board_dir
    from harness.leaderboard.submit import submit

    r = submit(args.submission, args.competition, board_dir(args.board), args.message)
    limit = f" of {r.definition.daily_limit}" if r.definition.daily_limit else ""
    print(f"{r.definition.name}: public {r.metric.name} {r.row.public_score:.5f} "
          f"(public rank {r.public_rank} of {r.entries}; {r.used_today}{limit} submissions today)")
    print(f"the private score is recorded in {r.rows_path} and hidden until "
          f"`harness leaderboard {r.definition.name} --final`")
    return 0
