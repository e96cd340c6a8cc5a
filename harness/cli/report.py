"""`harness report`: the self-contained HTML page of a finished run or ensemble folder."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the self-contained HTML report of a run or ensemble folder"
EXAMPLES = """examples:
  harness report runs/lite0_finetune
  harness report runs/my-ensemble --out /tmp/ensemble.html
(`harness run` writes RUN_DIR/report.html itself at the end of every run.)"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="a finished run folder or ensemble folder (with run.json)")
    p.add_argument("--out", type=Path, default=None, help="the page to write (default: FOLDER/report.html)")


def run(args: argparse.Namespace) -> int:
    from harness.plugin_manager import load_plugins
    from harness.report import write_report

    page = write_report(args.folder, args.out, load_plugins(only=("metrics",)))
    print(f"wrote {page}")
    return 0
