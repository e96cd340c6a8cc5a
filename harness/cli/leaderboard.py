"""`harness leaderboard`: the ranking of a competition's submissions, and its static page."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "show a competition's leaderboard and write its page"
EXAMPLES = """examples:
  harness leaderboard digits
  harness leaderboard digits --final        # reveal the private scores and the shake-up
  harness leaderboard hymenoptera --board leaderboard"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the competition's name")
    p.add_argument("--final", action="store_true", help="rank by the private score and show the shake-up")
    p.add_argument("--board", type=Path, default=None,
                   help="the board folder (default: $HARNESS_LEADERBOARD, else runs/leaderboard)")


def run(args: argparse.Namespace) -> int:
    from harness.leaderboard.board import ROWS, ranked, read_rows
    from harness.leaderboard.page import PAGE, write_page
    from harness.leaderboard.registry import board_dir, find_definition
    from harness.leaderboard.show import print_ranking
    from harness.metrics import get_metric

    board = board_dir(args.board)
    defn = find_definition(args.name, board)
    metric = get_metric(defn.metric)
    entries = ranked(read_rows(board / args.name / ROWS), metric, args.final)
    state = "final, by private score" if args.final else "by public score; private scores hidden"
    print_ranking(f"{defn.name}: {metric.name} ({state})", entries, args.final)
    page = write_page(board / args.name / PAGE, defn.name, metric, entries, args.final)
    print(f"page: {page}")
    return 0
