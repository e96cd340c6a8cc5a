"""What `harness ensemble` reports: `ensemble.json` (each member's OOF score next to the
ensemble's, in-sample and nested; the weights; per-view scores; holdout scores when there are
labels; the headroom left to a blend of these members, `headroom.py`; warnings), and the same as
a table on the terminal (rich on a TTY, plain text otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from harness.ensemble.headroom import headroom
from harness.ensemble.pipeline import ROW_PARTS, EnsembleResult
from harness.ensemble.plan import member_oof, member_probs, plain_plan
from harness.ensemble.views import view_scores
from harness.metrics import score
from harness.specs import normalized_weights


def normalized(w: Sequence[float] | None, m: int) -> list[float]:
    return [round(float(x), 6) for x in normalized_weights(w, m)]


def _members(r: EnsembleResult) -> list[dict[str, Any]]:
    pool, metric, out = r.pool, r.settings.metric, []
    plain = plain_plan(pool)
    for m, mp, pp, w in zip(pool.members, r.plan.members, plain.members,
                            normalized(r.plan.weights, len(pool.members)), strict=True):
        views = view_scores(m, pool.y, metric, fold=pool.fold)
        row: dict[str, Any] = {
            "name": m.name, "folder": str(m.folder), "kind": m.manifest.kind, "weight": w, "oof_score": views.pop("all"),
            "view_scores": views, "view_weights": dict(zip(mp.view_weights, normalized(list(mp.view_weights.values()),
                                                                                       len(m.views)), strict=True)),
            "temperature": round(mp.temperature, 6), "power": mp.power,
        }
        if mp != pp:
            row["oof_score_scaled"] = score(metric, pool.y, member_oof(m, mp, pool))
        if pool.holdout_y is not None:
            holdout = member_probs(m.sets["holdout"], pp, m.view_pool)
            row["holdout_score"] = score(metric, pool.holdout_y, r.fold_mean(list(holdout)))
        out.append(row)
    return out


def summarize(r: EnsembleResult) -> dict[str, Any]:
    """The content of `ensemble.json`."""
    pool, s, metric = r.pool, r.settings, r.settings.metric
    in_sample = score(metric, pool.y, r.oof)
    nested = score(metric, pool.y, r.nested) if r.nested is not None else (None if s.fits else in_sample)
    plain = score(metric, pool.y, r.plain_oof)
    scores: dict[str, Any] = {"oof_in_sample": in_sample, "oof_nested": nested, "oof_plain_mean": plain}
    if pool.holdout_y is not None:
        scores["holdout"] = score(metric, pool.holdout_y, r.final("holdout"))
        scores["holdout_plain_mean"] = score(metric, pool.holdout_y, r.final("holdout", plain=True))
    members = _members(r)
    best = members[0]
    for row in members[1:]:
        best = row if metric.better(row["oof_score"], best["oof_score"]) else best
    warnings, notes = [], list(pool.notes)
    if s.fits and nested is None:
        warnings.append(f"only fold {pool.folds[0]} is trained by every member, with too few rows to split: the fitted "
                        f"weights cannot be scored out of sample, and oof.csv holds in-sample predictions")
    elif s.fits and r.nested is not None and nested is not None and not metric.better(nested, plain) \
            and not np.allclose(r.nested, r.plain_oof):  # (fitting that gave back the plain mean lost nothing)
        warnings.append(f"the fitted ensemble scores {metric.name} {nested:.5f} out of sample (nested), not better than "
                        f"the plain mean's {plain:.5f} (in-sample {in_sample:.5f}): what it fitted follows noise in "
                        f"the OOF; prefer the plain mean")
    if r.nested_over == "rows":
        notes.append(f"only fold {pool.folds[0]} is trained by every member: the nested check fitted on "
                     f"{ROW_PARTS - 1} of {ROW_PARTS} seeded parts of its rows and scored the part left out")
    if r.plan.objective and r.plan.objective != metric.name:
        notes.append(f"{s.method} optimised {r.plan.objective}, not {metric.name}")
    return {
        "method": s.method, "options": dict(s.options), "metric": metric.name, "higher_is_better": metric.higher_is_better,
        "objective": r.plan.objective or None, "tta": s.tta,
        "temperature": "fit" if s.temperature is None else s.temperature, "power": s.power,
        "user_weights": list(s.weights) if s.weights else None,
        "folds": list(pool.folds), "oof_rows": len(pool.ids),
        "oof_written": "nested" if r.nested is not None else "in_sample", "nested_over": r.nested_over,
        "scores": scores, "best_member": {"name": best["name"], "oof_score": best["oof_score"]},
        "members": members,
        "nested_weights": {str(k): normalized(p.weights, len(pool.members)) for k, p in r.nested_plans.items()},
        "headroom": {ls.name: headroom(ls) for ls in r.labelled_sets},
        "correlation": "correlation.csv: Pearson correlation over the OOF rows of each member's probability of the "
                       "true class, after view weighting and scaling",
        "warnings": warnings, "notes": notes,
    }


NESTED_OVER = {"folds": "folds", "rows": "parts of the one fold's rows"}  # what a nested fit leaves one of out


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.5f}" if isinstance(x, float) else str(x)


def table_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The terminal table: one row per member, then the plain mean and the ensemble."""
    holdout = "holdout" in summary["scores"]
    header = ["", "weight", "T", f"OOF {summary['metric']}", *(["holdout"] if holdout else []), "views (OOF score, weight)"]
    rows = []
    for m in summary["members"]:
        views = ", ".join(f"{v} {s:.4f} w{m['view_weights'][v]:.2f}" for v, s in m["view_scores"].items())
        oof = _fmt(m["oof_score"]) + (f" -> {_fmt(m['oof_score_scaled'])}" if "oof_score_scaled" in m else "")
        rows.append([m["name"], f"{m['weight']:.3f}", f"{m['temperature']:.3g}", oof,
                     *([_fmt(m.get("holdout_score"))] if holdout else []), views])
    sc = summary["scores"]
    rows.append(["plain mean", "", "", _fmt(sc["oof_plain_mean"]), *([_fmt(sc["holdout_plain_mean"])] if holdout else []), ""])
    rows.append([f"{summary['method']} in-sample", "", "", _fmt(sc["oof_in_sample"]),
                 *([_fmt(sc["holdout"])] if holdout else []), summary["objective"] or ""])
    over = summary.get("nested_over")
    if over is not None:
        how = f"fit on K-1 {NESTED_OVER[over]}, scored on the left-out one"
    else:
        how = "nothing fitted: as in sample" if sc["oof_nested"] is not None else "not checked"
    rows.append([f"{summary['method']} nested", "", "", _fmt(sc["oof_nested"]), *([""] if holdout else []), how])
    return header, rows


def print_table(summary: dict[str, Any], stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    header, rows = table_rows(summary)
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*header, title=f"ensemble of {len(summary['members'])} on folds {summary['folds']}")
        for i, row in enumerate(rows):
            table.add_row(*row, end_section=i == len(summary["members"]) - 1)
        Console(file=stream).print(table)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        stream.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
