"""The static leaderboard page, `BOARD/NAME/leaderboard.html`: the ranking (private scores masked
until final), a CV-vs-public-score scatter plot embedded as a base64 PNG so the page stands alone,
and once final the shake-up from public to private rank."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from harness.leaderboard.board import Ranked, display_rows
from harness.specs import MetricSpec

PAGE = "leaderboard.html"
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.note{color:#555}"""


def scatter_png(entries: list[Ranked], metric: str) -> bytes | None:
    """CV score against public score for the submissions that carry a CV score in `metric` (or in
    an unnamed metric); None when none does."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(e.row.cv_score, e.row.public_score) for e in entries
              if e.row.cv_score is not None and e.row.cv_metric in ("", metric)]
    if not points:
        return None
    xs, ys = zip(*points, strict=True)
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=100)
    ax.scatter(xs, ys, s=28, alpha=0.8)
    lo, hi = min(*xs, *ys), max(*xs, *ys)
    pad = (hi - lo) * 0.05 or 0.01
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--", label="cv = public")
    ax.set_xlabel(f"CV {metric}")
    ax.set_ylabel(f"public {metric}")
    ax.set_title("CV vs public leaderboard")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _table(head: list[str], cells: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def render_page(name: str, spec: MetricSpec, entries: list[Ranked], final: bool) -> str:
    head, cells = display_rows(entries, final)
    metric, direction = spec.name, spec.in_words
    state = ("final: ranked by the private score; <em>shake-up</em> is the public rank minus the private rank"
             if final else "ranked by the public score; private scores are hidden until "
             f"<code>harness leaderboard {html.escape(name)} --final</code>")
    png = scatter_png(entries, metric)
    plot = (f'<img alt="CV vs public score" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            if png else '<p class="note">No submission carries a CV score in this metric yet.</p>')
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(name)} leaderboard</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>{html.escape(name)}</h1>\n"
            f"<p>{html.escape(metric)} ({direction}), {len(entries)} submission(s); {state}.</p>\n"
            f"{_table(head, cells)}\n<h2>CV vs public score</h2>\n{plot}\n</body></html>\n")


def write_page(path: Path, name: str, metric: MetricSpec, entries: list[Ranked], final: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(name, metric, entries, final), encoding="utf-8")
    return path
