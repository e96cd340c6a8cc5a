"""The static page and the terminal table: the ranking, the embedded scatter plot, masking."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from harness.leaderboard.board import Row, ranked
from harness.leaderboard.page import render_page, write_page
from harness.leaderboard.show import print_ranking
from harness.plugin_manager import load_plugins

ACCURACY = load_plugins().metric("accuracy")

ROWS = [
    Row("2026-03-01T10:00:00Z", "a" * 64, "resnet <b>", "runs/a", "accuracy", 0.91, 0.90, 0.87),
    Row("2026-03-01T11:00:00Z", "b" * 64, "lite0", "runs/b", "accuracy", 0.95, 0.93, 0.94),
    Row("2026-03-01T12:00:00Z", "c" * 64, "by hand", "", "", None, 0.80, 0.89),
]


def test_page_embeds_the_scatter_plot_and_masks_private_scores(tmp_path: Path) -> None:
    page = write_page(tmp_path / "toy" / "leaderboard.html", "toy", ACCURACY, ranked(ROWS, ACCURACY, False), False)
    text = page.read_text()
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png is not None and base64.b64decode(png.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "0.87000" not in text and "0.94000" not in text and "hidden" in text
    assert text.index("lite0") < text.index("resnet") < text.index("by hand")  # by public score
    assert "resnet &lt;b&gt;" in text  # messages are escaped


def test_final_page_shows_the_private_ranking_and_shake_up() -> None:
    text = render_page("toy", ACCURACY, ranked(ROWS, ACCURACY, True), True)
    assert "0.87000" in text and "<td>+1</td>" in text and "<td>-1</td>" in text
    assert text.index("lite0") < text.index("by hand") < text.index("resnet")  # by private score


def test_page_without_cv_scores_says_so() -> None:
    rows = [ROWS[2]]
    text = render_page("toy", ACCURACY, ranked(rows, ACCURACY, False), False)
    assert "data:image/png" not in text and "No submission carries a CV score" in text


def test_terminal_table_masks_private_scores() -> None:
    out = io.StringIO()
    print_ranking("toy", ranked(ROWS, ACCURACY, False), False, out)
    assert "0.93000" in out.getvalue() and "0.94000" not in out.getvalue()
    out = io.StringIO()
    print_ranking("toy", ranked(ROWS, ACCURACY, True), True, out)
    assert "0.94000" in out.getvalue()
