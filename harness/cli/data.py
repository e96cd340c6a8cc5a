"""`harness data`: write the digits competition, or check a competition's images."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError

HELP = "make or check competition data"
EXAMPLES = """examples:
  harness data digits data/digits
  harness data check ../shared/data/hymenoptera"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help=HELP, description=HELP, epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    digits = data_sub.add_parser("digits", help="write the digits competition (scikit-learn's 8x8 scans)")
    digits.add_argument("dir", type=Path)
    check = data_sub.add_parser("check", help="report every unreadable image in a competition folder")
    check.add_argument("dir", type=Path)
    check.add_argument("--recipe", type=Path, default=None, help="read column and folder names from a recipe")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "digits":
        from harness.data.digits import write_digits

        counts = write_digits(args.dir)
        print(f"wrote {counts['train']} train and {counts['test']} test images ({counts['classes']} classes) "
              f"to {args.dir}; answer key in {args.dir / 'private' / 'solution.csv'}")
        return 0
    if args.data_command == "check":
        from harness.data.report import check_folder

        return check_folder(args.dir, args.recipe)
    raise HarnessError("usage: harness data {digits,check} DIR")
