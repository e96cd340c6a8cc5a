"""`harness leaderboard`: the ranking of a competition's submissions, and its static page."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "show a competition's leaderboard and write its page"
EXAMPLES = """examples:
  harness leaderboard digits
  harness leaderboard digits --final        # reveal the private scores and the shake-up
  harness leaderboard hymenoptera --board leaderboard
  harness leaderboard cifar10 --reference "Kaggle CIFAR-10 2014, 1st place" --private 0.9588 \
      --source https://www.kaggle.com/c/cifar-10/leaderboard    # a score made elsewhere, as a yardstick"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the competition's name")
    p.add_argument("--final", action="store_true", help="rank by the private score and show the shake-up")
    p.add_argument("--board", type=Path, default=None,
                   help="the board folder (default: $HARNESS_LEADERBOARD, else runs/leaderboard)")
    ref = p.add_argument_group("a reference row", "add a score made elsewhere (no file: the row is marked external), "
                               "then show the board")
    ref.add_argument("--reference", metavar="MESSAGE", help="whose score it is, e.g. \"Kaggle 2014, 1st place\"")
    ref.add_argument("--private", type=float, help="its private score")
    ref.add_argument("--public", type=float, help="its public score, where known")
    ref.add_argument("--source", default="", help="where the score is published")


def run(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.leaderboard.board import ROWS, append_row, ranked, read_rows, reference_row, utc_now
    from harness.leaderboard.page import PAGE, write_page
    from harness.leaderboard.registry import board_dir, find_definition
    from harness.leaderboard.show import print_ranking
    from harness.metrics import get_metric

    board = board_dir(args.board)
    defn = find_definition(args.name, board)
    metric = get_metric(defn.metric)
    if args.reference is None and (args.private, args.public) != (None, None):
        raise HarnessError("--private and --public give a reference row's scores: name it with --reference MESSAGE")
    if args.reference is not None:
        append_row(board / args.name / ROWS, reference_row(args.reference, args.source, args.private, args.public,
                                                          utc_now()))
        print(f"{defn.name}: added the reference row {args.reference!r}")
    entries = ranked(read_rows(board / args.name / ROWS), metric, args.final)
    state = "final, by private score" if args.final else "by public score; private scores hidden"
    print_ranking(f"{defn.name}: {metric.name} ({state})", entries, args.final)
    page = write_page(board / args.name / PAGE, defn.name, metric, entries, args.final)
    print(f"page: {page}")
    return 0
