"""`harness ensemble`: combine runs' OOF, test and holdout predictions into an ensemble folder."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

HELP = "combine runs (folds and TTA views) into an ensemble, weights scored out of sample"
EXAMPLES = """examples:
  harness ensemble runs/a runs/b --out runs/ens                     # plain mean
  harness ensemble runs/a runs/b --out runs/ens --method mean --weights 1,2
  harness ensemble runs/a runs/b runs/c --out runs/ens --method hill_climb --option bags=20
  harness ensemble runs/a runs/b --out runs/ens --method slsqp --temperature fit
  harness ensemble runs/a --out runs/a-tta --tta select             # keep the TTA views that help
  harness ensemble runs/ens runs/d --out runs/ens2                  # an ensemble is a member too

methods: mean, geometric, rank, hill_climb, slsqp, and any plugin's (`harness plugins`).
A fitting method's weights are scored out of sample (nested): fitted on all folds but one and scored
on it, or, where the runs share one fold (cv.only), fitted on 4 of 5 seeded parts of its rows.
Writes ensemble.json, correlation.csv/.png, mistakes.csv, oof.csv, submission.csv and run.json in --out.
The headroom lines say how many of the ensemble's misses every member shares: better weights or
another seed cannot fix those; a member that sees them differently can (mistakes.csv names them)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR", help="run or ensemble folders sharing folds")
    p.add_argument("--out", type=Path, required=True, help="the ensemble folder to write")
    p.add_argument("--method", default="mean", help="ensembler component (default: mean)")
    p.add_argument("--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the method, e.g. --option iterations=100 (repeatable)")
    p.add_argument("--metric", default=None, help="metric to score and optimise (default: the runs' cv.metric)")
    p.add_argument("--weights", default=None, metavar="W1,W2,...",
                   help="user weights, one per run, for a method that does not fit (mean, geometric, rank)")
    p.add_argument("--tta", default="all", metavar="all|select|VIEW,VIEW",
                   help="TTA views per run: all (as the run did), select (fitted on the OOF), or a list")
    p.add_argument("--tta-method", default="hill_climb", help="fitting ensembler that weights views for --tta select")
    p.add_argument("--temperature", default="1", metavar="fit|T",
                   help="divide each run's logits by T, or fit one T per run on the OOF log loss")
    p.add_argument("--power", type=float, default=1.0, help="raise each run's probabilities to this power (renormalized)")


def parse_options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in pairs:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--option {text!r}: expected KEY=VALUE, such as iterations=100")
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw.strip()
    return out


def parse_weights(text: str | None, members: int) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        w = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise HarnessError(f"--weights {text!r}: expected numbers separated by commas, such as 1,2") from exc
    if len(w) != members:
        raise HarnessError(f"--weights gives {len(w)} weight(s) for {members} run(s)")
    if min(w) < 0 or sum(w) <= 0:
        raise HarnessError(f"--weights {text!r}: weights must be >= 0 and not all 0")
    return w


def parse_temperature(text: str) -> float | None:
    if text == "fit":
        return None
    try:
        t = float(text)
    except ValueError as exc:
        raise HarnessError(f"--temperature {text!r}: expected 'fit' or a number > 0") from exc
    if not t > 0:
        raise HarnessError(f"--temperature {text!r}: must be > 0")
    return t


def run(args: argparse.Namespace) -> int:
    from harness.config.typed import from_dict
    from harness.ensemble import Settings, load_pool, print_table, run_ensemble, summarize, write_ensemble
    from harness.ensemble.headroom import describe
    from harness.metrics import get_metric
    from harness.plugin_manager import load_plugins
    from harness.specs import FittingEnsembler

    out: Path = args.out
    if (out / "run.json").exists() or (out / "recipe.toml").exists():
        raise HarnessError(f"--out {out} already holds a run or an ensemble; choose another folder")
    if out.resolve() in [r.resolve() for r in args.runs]:
        raise HarnessError(f"--out {out} is one of the runs to ensemble")
    if not args.power > 0:
        raise HarnessError(f"--power {args.power}: must be > 0")
    plugins = load_plugins(only=("metrics", "ensemblers"))
    pool = load_pool(args.runs, plugins)
    metric = get_metric(args.metric or pool.manifest.metric, plugins)
    options = from_dict(plugins.get("ensemblers", args.method).options, parse_options(args.options), "--option")
    ensembler = plugins.ensembler(args.method, options)
    weights = parse_weights(args.weights, len(pool.members))
    if weights is not None and isinstance(ensembler, FittingEnsembler):
        raise HarnessError(f"--weights: {args.method} fits its own weights; give --weights to mean, geometric or rank")
    tta_fitter: FittingEnsembler | None = None
    if args.tta == "select":
        chosen = plugins.ensembler(args.tta_method)
        if not isinstance(chosen, FittingEnsembler):
            raise HarnessError(f"--tta-method {args.tta_method} does not fit weights; choose hill_climb or slsqp")
        tta_fitter = chosen
    settings = Settings(ensembler, metric, args.method, vars(options), weights, args.tta, tta_fitter,
                        parse_temperature(args.temperature), args.power)
    result = run_ensemble(pool, settings, plugins.ensembler("mean"))
    summary = summarize(result)
    metrics = write_ensemble(out, result, summary)
    print_table(summary)
    for name, room in summary["headroom"].items():
        print(describe(name, room))
    sys.stdout.flush()  # the table before the notes and warnings, on a terminal or in a log
    for line in summary["notes"]:
        print(f"note: {line}", file=sys.stderr)
    for line in summary["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    print(f"ensemble {metric.name}: OOF {metrics['cv_score']:.5f} ({summary['oof_written'].replace('_', '-')})"
          + (f", holdout {metrics['holdout_score']:.5f}" if "holdout_score" in metrics else "") + f" -> {out}")
    return 0
