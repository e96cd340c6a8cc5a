"""`harness data`: write the digits competition, or check a competition's images."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError

HELP = "make or check competition data"
EXAMPLES = """examples:
  harness data digits data/digits
  harness data digits ~/comps/digits        # anywhere: the folder is registered as the competition digits
  harness data check ../shared/data/hymenoptera

`harness data digits DIR` registers DIR in the board (--board, else $HARNESS_LEADERBOARD, else
runs/leaderboard), so `harness submit FILE --competition digits` scores on its answer key."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help=HELP, description=HELP, epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    digits = data_sub.add_parser("digits", help="write the digits competition (scikit-learn's 8x8 scans) and register it")
    digits.add_argument("dir", type=Path)
    digits.add_argument("--board", type=Path, default=None,
                        help="the board folder to register it in (default: $HARNESS_LEADERBOARD, else runs/leaderboard)")
    check = data_sub.add_parser("check", help="report every unreadable image in a competition folder")
    check.add_argument("dir", type=Path)
    check.add_argument("--recipe", type=Path, default=None, help="read column and folder names from a recipe")


def _register_digits(folder: Path, board: Path | None) -> None:
    """Register the folder just written as the competition `digits` (replacing an older registration of
    it in the board), unless the definition harness ships already points at it."""
    import shlex

    from harness.leaderboard.competition import Options, new_competition
    from harness.leaderboard.registry import board_dir

    made_by = f"harness data digits {shlex.quote(str(folder))}"
    made = new_competition("digits", folder, None, board_dir(board), Options(daily_limit=20, force=True), "", made_by)
    for note in made.notes:
        print(note)
    if made.written:
        print(f"registered the competition 'digits' in {made.definition.path}")
    print(f"train with `--set data.root={folder}`; submit with `harness submit FILE.csv --competition digits`")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "digits":
        from harness.data.digits import write_digits

        counts = write_digits(args.dir)
        print(f"wrote {counts['train']} train and {counts['test']} test images ({counts['classes']} classes) "
              f"to {args.dir}; answer key in {args.dir / 'private' / 'solution.csv'}")
        _register_digits(args.dir, args.board)
        return 0
    if args.data_command == "check":
        from harness.data.report import check_folder

        return check_folder(args.dir, args.recipe)
    raise HarnessError("usage: harness data {digits,check} DIR")
