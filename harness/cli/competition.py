"""`harness competition`: make a Kaggle-style competition from a labelled image set and register it,
or list the registered competitions."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness.errors import HarnessError

HELP = "make a competition from a labelled image set, or list the registered ones"
EXAMPLES = """examples:
  harness competition new hymenoptera --from ../shared/data/hymenoptera --out data/hymenoptera-comp
  harness competition new digits --from data/digits            # already Kaggle-style: registered as it is
  harness competition new pets --from DIR --metric log_loss     # a probability competition
  harness competition list

The definition goes to BOARD/NAME/competition.toml (--board, else $HARNESS_LEADERBOARD, else
runs/leaderboard). `harness competition list` shows the board's and the ones harness ships (digits,
hymenoptera: package data, listed from any directory), each with the command that writes its
folder when its answer key is not there."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    comp = sub.add_parser("competition", help=HELP, description=HELP, epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    comp_sub = comp.add_subparsers(dest="competition_command", metavar="COMPETITION_COMMAND")
    new = comp_sub.add_parser("new", help="make and register a competition", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("name", help="the competition's name (a folder name)")
    new.add_argument("--from", dest="source", type=Path, required=True,
                     help="a labelled ImageFolder (train/CLASS/* with val/ or test/), or a Kaggle-style folder")
    new.add_argument("--out", type=Path, default=None, help="where to write the competition folder (default: data/NAME)")
    new.add_argument("--board", type=Path, default=None, help="the board folder to register in")
    new.add_argument("--metric", default="accuracy", help="a metric of `harness plugins` (default: accuracy)")
    new.add_argument("--kind", choices=("label", "probability"), default=None,
                     help="what a submission holds (default: probability when the metric needs it, else label)")
    new.add_argument("--seed", type=int, default=0, help="seed of the ids and of the Public/Private split")
    new.add_argument("--public", type=float, default=0.5, help="share of the test rows scored publicly (default 0.5)")
    new.add_argument("--daily-limit", type=int, default=5, help="scored submissions per UTC day; 0: no limit")
    new.add_argument("--link", action="store_true", help="hard-link the images instead of copying them")
    new.add_argument("--force", action="store_true", help="replace an existing definition of NAME in the board")
    lst = comp_sub.add_parser("list", help="list the registered competitions")
    lst.add_argument("--board", type=Path, default=None,
                     help="the board folder (default: $HARNESS_LEADERBOARD, else runs/leaderboard)")


def run(args: argparse.Namespace) -> int:
    from harness.leaderboard.registry import board_dir

    if args.competition_command is None:
        raise HarnessError("usage: harness competition {new,list} ... (see harness competition --help)")
    board = board_dir(args.board)
    if args.competition_command == "new":
        from harness.leaderboard.competition import Options, new_competition

        if not 0.0 < args.public < 1.0:
            raise HarnessError(f"--public must be between 0 and 1, got {args.public}")
        if args.daily_limit < 0:
            raise HarnessError(f"--daily-limit must be >= 0, got {args.daily_limit}")
        opts = Options(args.metric, args.kind or "", args.seed, args.public, args.daily_limit, args.link, args.force)
        command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
        made = new_competition(args.name, args.source, args.out, board, opts, command)
        for note in made.notes:
            print(note)
        d = made.definition
        if made.written:
            print(f"registered {d.name!r} ({d.kind} submissions, {d.metric}, {len(d.classes)} classes) in {d.path}")
        print(f"submit with `harness submit FILE.csv --competition {d.name}`; sample: {d.sample_path}")
        return 0
    if args.competition_command == "list":
        from harness.leaderboard.registry import read_definition, registered

        for path in registered(board):
            d = read_definition(path)
            ready = "" if d.answer_key_path.is_file() else f"  (no answer key here: {d.how_to_make()})"
            print(f"{d.name:<20} {d.kind:<12} {d.metric:<18} {len(d.classes):>3} classes  {path}{ready}")
        return 0
    raise HarnessError(f"unknown competition command {args.competition_command!r}")
