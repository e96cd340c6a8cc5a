"""`report.html`: one self-contained page for a finished run or ensemble folder (every image is
embedded as base64, nothing is fetched): the recipe, learning curves, CV per fold with and without
TTA and per candidate weights, the confusion matrix, per-class precision and recall, a reliability
diagram, the most confidently wrong OOF images, timing and the environment."""

from __future__ import annotations

import base64
import html
import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.report import figures
from harness.report.folder import RunFolder, read_run_folder
from harness.report.gallery import Mistake, confident_mistakes, data_uri
from harness.report.scores import FoldRow, calibration, confusion, fold_rows, precision_recall
from harness.specs import MetricSpec

PAGE = "report.html"
SECTIONS = ("recipe", "curves", "scores", "confusion", "per-class", "calibration", "mistakes", "timing", "environment")
_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;max-width:90em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555}
pre{background:#f7f7f7;padding:.8em;overflow:auto;max-height:32em;font-size:.85em}
nav a{margin-right:1em}img{max-width:100%;height:auto}.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:170px;font-size:.8em;overflow-wrap:anywhere}figure img{width:160px;height:160px;object-fit:contain;
background:#eee;image-rendering:pixelated}.missing{width:160px;height:160px;background:#eee;display:flex;
align-items:center;justify-content:center;text-align:center;color:#777}"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _num(x: float | None, digits: int = 4) -> str:
    return "&ndash;" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Cells are HTML already (escape text with `_e`)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _pairs(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of (name, HTML value), without a header."""
    return "<table><tbody>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</tbody></table>"


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(title)}</h2>\n{body}\n</section>\n'


def _recipe(run: RunFolder) -> str:
    if run.recipe_text:
        return f"<pre>{_e(run.recipe_text)}</pre>"
    members = "".join(f"<li><code>{_e(m)}</code> (its own report: <code>{_e(Path(m) / PAGE)}</code>)</li>"
                      for m in run.manifest.members)
    summary = {k: v for k, v in run.ensemble.items() if k in ("method", "weights", "scores", "warnings", "members")}
    return (f"<p>An ensemble ({_e(run.manifest.extra.get('method', ''))}) of:</p><ul>{members}</ul>"
            f"<pre>{_e(json.dumps(summary, indent=1))}</pre>")


def _curves(run: RunFolder) -> str:
    if not run.history:
        why = "an ensemble folder has no training history: see its members' reports" if run.is_ensemble \
            else "no training history (log.jsonl) in this folder"
        return f'<p class="note">{_e(why)}.</p>'
    return _img(_learning_curves(run), "learning curves per fold")


def _learning_curves(run: RunFolder) -> bytes:
    """The run's own `learning_curve.png` (the same figure, drawn once as the run ended), unless the
    history is newer than it (a run still training, or stopped), then drawn here."""
    png, log = run.path / "learning_curve.png", run.path / "log.jsonl"
    if png.is_file() and log.is_file() and png.stat().st_mtime_ns >= log.stat().st_mtime_ns:
        return png.read_bytes()
    return figures.learning_curves(run.history, run.manifest.metric)


def _scores(rows: list[FoldRow], metric: str, higher: bool) -> str:
    names = sorted({n for r in rows for n in r.candidates}, key=lambda n: (n != "raw", n))
    head = ["fold", "images", "weights chosen", "best epoch", *[f"{_e(n)} weights<br>(no TTA)" for n in names],
            "OOF, no TTA", "OOF, with TTA"]
    body = [[_e(r.fold), str(r.images), _e(r.chosen) or "&ndash;", "&ndash;" if r.best_epoch is None else str(r.best_epoch + 1),
             *[_num(r.candidates.get(n)) for n in names], _num(r.without_tta), f"<b>{_num(r.with_tta)}</b>"]
            for r in rows]
    note = (f"{_e(metric)}, {'higher' if higher else 'lower'} is better. The candidate columns are each candidate's "
            "best validation score during training, on the first TTA view; <em>OOF, no TTA</em> scores the chosen "
            "weights' first view, <em>with TTA</em> the views ensembled as the run did (the OOF in oof.csv).")
    return _table(head, body) + f'<p class="note">{note}</p>'


def _per_class(cm: np.ndarray, classes: Sequence[str]) -> str:
    precision, recall, support = precision_recall(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    rows = [[_e(c), str(int(support[i])), str(int(cm[:, i].sum())), _num(precision[i]), _num(recall[i]), _num(f1[i])]
            for i, c in enumerate(classes)]
    return _table(["class", "true images", "predicted", "precision", "recall", "F1"], rows)


def _mistakes(items: list[Mistake], root: str) -> str:
    if not items:
        return '<p class="note">No OOF image is misclassified.</p>'
    missing = [m for m in items if m.jpeg is None]
    cells = []
    for m in items:
        pic = (f'<img alt="{_e(m.id)}" src="{data_uri(m.jpeg)}">' if m.jpeg is not None
               else f'<div class="missing">image unavailable<br>({_e(m.why)})</div>')
        cells.append(f"<figure>{pic}<figcaption><code>{_e(m.id)}</code><br>true <b>{_e(m.true)}</b> "
                     f"(p={m.true_prob:.3f})<br>predicted <b>{_e(m.predicted)}</b> (p={m.confidence:.3f})</figcaption></figure>")
    note = ""
    if missing:
        note = (f'<p class="note">{len(missing)} of these {len(items)} training images could not be shown '
                f"(looked under data.root = <code>{_e(root or 'unset')}</code>): the labels and probabilities "
                "still come from oof.csv.</p>")
    return f"{note}<div class=\"grid\">{''.join(cells)}</div>"


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _timing(run: RunFolder) -> str:
    m = run.metrics
    keys = [("wall_seconds", "wall time (s)", 1), ("train_img_per_s", "training images/s (median over epochs)", 2),
            ("predict_img_per_s", "prediction images/s (each TTA view counts)", 2),
            ("data_wait_fraction", "data-wait fraction (median share of epoch time blocked on the loader)", 3)]
    overall = [(_e(label), _num(m.get(k), d)) for k, label, d in keys if k in m]
    out = _pairs(overall) if overall else '<p class="note">metrics.json records no timing.</p>'
    if run.history:
        rows = []
        for f in sorted({int(h["fold"]) for h in run.history}):
            hs = [h for h in run.history if int(h["fold"]) == f]
            pred = next((x.result.get("predict_img_per_s") for x in run.folds if x.fold == f), None)
            rows.append([str(f), str(len(hs)), _num(_median([h["epoch_seconds"] for h in hs if "epoch_seconds" in h]), 1),
                         _num(_median([h["train_img_per_s"] for h in hs if "train_img_per_s" in h]), 2),
                         _num(_median([h["data_wait_fraction"] for h in hs if "data_wait_fraction" in h]), 3),
                         _num(pred, 2)])
        out += _table(["fold", "epochs", "s / epoch (median)", "train images/s", "data wait", "predict images/s"], rows)
    return out


def _environment(run: RunFolder) -> str:
    man, m = run.manifest, run.metrics
    versions: dict[str, Any] = dict(man.extra.get("versions", {}))
    rows: list[tuple[str, object]] = [("kind", man.kind), ("harness", man.harness_version),
                                      ("git commit", man.git_commit or "not in git")]
    rows += [(name, v) for name, v in versions.items()]
    if not versions:
        rows.append(("library versions", "not recorded by this run"))
    rows += [(label, m[k]) for k, label in (("device", "device"), ("mixed_precision", "mixed precision"))
             if k in m]
    rows += [("processes", man.processes), ("global batch", f"{man.global_batch} = {man.per_process_batch} x "
                                            f"{man.processes} process(es) x {man.grad_accum} accumulated"),
             ("learning rate", f"{man.lr:g}"), ("folds", f"{man.folds} ({man.folds_source}, cv seed {man.cv_seed})"),
             ("data fraction", man.fraction), ("TTA views", ", ".join(man.tta_views)),
             ("recipe sha256", man.recipe_sha256 or "not recorded")]
    return _pairs([(_e(k), _e(v)) for k, v in rows])


def _levels_and_tasks(m: dict) -> str:
    """A hierarchy's accuracy at every level (metrics.json's level_accuracy) and a multi-task run's
    further tasks' scores (task_scores), when the run has them."""
    out = ""
    levels = m.get("level_accuracy") or {}
    if levels:
        names = list(next(iter(levels.values())))
        rows = [[_e(s), *(_num(v.get(n)) for n in names)] for s, v in levels.items()]
        out += _section("levels", "Accuracy at every level of the hierarchy", _table(["set", *names], rows))
    tasks = m.get("task_scores") or {}
    if tasks:
        rows = [[_e(t), _num(v.get("cv")), _num(v.get("holdout"))] for t, v in tasks.items()]
        out += _section("tasks", "Further tasks (multi-task heads)", _table(["task", "CV", "holdout"], rows))
    return out


def render(run: RunFolder, metric: MetricSpec) -> str:
    man, m = run.manifest, run.metrics
    y, probs = run.labels(), run.probs()
    cm = confusion(y, probs.argmax(axis=1), len(run.classes))
    cal = calibration(y, probs)
    data = run.recipe.get("data", {})
    mistakes = confident_mistakes(run.oof, run.classes, data)
    headline = f"CV {_e(man.metric)} <b>{_num(m.get('cv_score'))}</b>"
    if m.get("cv_score_se") is not None:  # how far another draw of as many OOF rows could move it
        headline += f" &plusmn; {_num(m['cv_score_se'])} (standard error)"
    if "holdout_score" in m:
        headline += f", holdout <b>{_num(m['holdout_score'])}</b>"
    headline += f"; {len(y)} OOF images, {len(run.classes)} classes, {len(run.folds)} fold(s)"
    extra = ""
    if (run.path / "correlation.png").is_file():
        extra = _section("correlation", "Members' correlation", _img((run.path / "correlation.png").read_bytes(),
                                                                       "members' correlation"))
    extra += _levels_and_tasks(m)
    parts = [
        _section("recipe", "Resolved recipe" if run.recipe_text else "Ensemble", _recipe(run)),
        _section("curves", "Learning curves", _curves(run)),
        _section("scores", "CV per fold", _scores(fold_rows(run, metric), man.metric, man.higher_is_better)),
        _section("confusion", "Confusion matrix", _img(figures.confusion_matrix(cm, run.classes), "confusion matrix")),
        _section("per-class", "Per-class precision and recall", _per_class(cm, run.classes)),
        _section("calibration", "Calibration", _img(figures.reliability(cal), "reliability diagram")
                 + f'<p class="note">Expected calibration error {cal.ece:.4f} over 10 bins of the top-class '
                   "probability.</p>"),
        _section("mistakes", "Most confidently wrong OOF images", _mistakes(mistakes, str(data.get("root", "")))),
        extra,
        _section("timing", "Timing", _timing(run)),
        _section("environment", "Environment", _environment(run)),
    ]
    nav = "".join(f'<a href="#{k}">{_e(k)}</a>' for k in SECTIONS)
    title = f"{run.path.resolve().name}: {man.kind} report"
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>{_e(title)}</h1>\n<p>{headline}</p>\n"
            f"<p class=\"note\"><code>{_e(run.path.resolve())}</code></p>\n<nav>{nav}</nav>\n"
            + "".join(parts) + "</body></html>\n")


def write_report(folder: Path, out: Path | None = None, plugins: Any = None) -> Path:
    """Render the report of the run or ensemble in `folder` to `out` (default FOLDER/report.html)."""
    from harness.metrics import get_metric

    run = read_run_folder(folder)
    page = render(run, get_metric(run.manifest.metric, plugins))
    out = out or folder / PAGE
    out.write_text(page, encoding="utf-8")
    return out


def report_after_run(folder: Path, plugins: Any, warn: Callable[[str], None]) -> None:
    """The end of `harness run`: write the page, and only warn when it cannot be rendered (a run
    is never lost to its report)."""
    try:
        write_report(folder, plugins=plugins)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the page must not fail the run
        warn(f"report.html not written: {type(exc).__name__}: {exc} (try `harness report {folder}`)")
