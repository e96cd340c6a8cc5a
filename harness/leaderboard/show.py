"""The ranking on the terminal: a rich table on a terminal, plain aligned text when piped."""

from __future__ import annotations

import sys
from typing import TextIO

from harness.leaderboard.board import Ranked, display_rows


def plain_table(head: list[str], cells: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[k]) for r in cells)]) for k, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *cells]]
    return "\n".join(lines)


def print_ranking(title: str, entries: list[Ranked], final: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    head, cells = display_rows(entries, final)
    if not out.isatty():
        print(title, file=out)
        print(plain_table(head, cells) if cells else "(no submissions yet)", file=out)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h in head:
        table.add_column(h, justify="right" if h in ("#", "public #", "shake-up") else "left", overflow="fold")
    for row in cells:
        table.add_row(*row)
    Console(file=out).print(table)
