"""`harness tune`: an Optuna search over the keys a recipe's [tune] section names."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.tune.tuner import TuneOptions

# harness.tune.space.PRUNERS, without importing harness.tune (and torch) to build the parser
PRUNER_CHOICES = ("worst", "median", "halving", "hyperband", "none")
HELP = "search a recipe's [tune] space with Optuna (pruned, resumable, parallel)"
EXAMPLES = """examples:
  harness tune recipes/lite0_tune.toml --trials 50
  harness tune recipes/lite0_tune.toml --trials 50 --refit            # then train the best recipe in full
  harness tune recipes/lite0_tune.toml --set data.root=DIR --sampler random --pruner hyperband
  harness tune R.toml --storage journal:runs/tune-R/study.journal --n-workers 4
  harness tune R.toml --storage postgresql://USER:PASSWORD@HOST/DB    # the same command on each machine
  accelerate launch --multi_gpu --num_processes 2 -m harness tune R.toml

Re-running the same command resumes the study: --trials N counts finished (complete or pruned)
trials in the study, whoever ran them. The tuning folder (default runs/tune-RECIPE_NAME) holds
study.db, trials.csv, best.toml (run it with `harness run`), plots and trials/NNNN/.
Open the study: optuna-dashboard sqlite:///runs/tune-RECIPE_NAME/study.db"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", type=Path, help="recipe TOML file with a [tune] section")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="finished trials the study should hold in total (default: tune.trials, 20)")
    p.add_argument("--out", type=Path, default=None, help="tuning folder (default: runs/tune-RECIPE_NAME)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="an Optuna storage: sqlite:///F.db (default: OUT/study.db), postgresql://..., mysql+pymysql://..., "
                        "or journal:PATH (a journal file, also on a shared filesystem)")
    p.add_argument("--study-name", default=None, help="the study to create or resume (default: the recipe's name)")
    p.add_argument("--sampler", choices=["tpe", "random", "cmaes", "grid"], default=None,
                   help="Optuna sampler (default: tune.search, tpe); grid takes the choices and stepped ranges")
    p.add_argument("--pruner", choices=PRUNER_CHOICES, default=None,
                   help="Optuna pruner, fed each epoch's val_score (default: tune.pruner, worst: stop a trial only "
                        "when it is below every complete trial at that epoch)")
    p.add_argument("--n-workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine, sharing the study (needs --storage journal: or a database)")
    p.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS",
                   help="a running trial's heartbeat; after 3 missed ones its worker is taken for dead and the trial "
                        "runs again (default: 60)")
    p.add_argument("--refit", action="store_true", help="at the end, train the best recipe in full and report its CV")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set data.root=DIR (repeatable)")
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)  # worker K of --n-workers


def worker_argv(opts: TuneOptions, k: int) -> list[str]:
    """The command line of worker `k`, from the parent's resolved options."""
    argv = [sys.executable, "-m", "harness", "tune", str(opts.recipe), "--out", str(opts.out), "--storage", str(opts.storage),
            "--study-name", str(opts.study_name), "--trials", str(opts.trials), "--sampler", str(opts.sampler),
            "--pruner", str(opts.pruner), "--heartbeat", str(opts.heartbeat), "--worker", str(k)]
    for text in opts.overrides:
        argv += ["--set", text]
    return argv


def run(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.tune.tuner import TuneOptions, tune

    if args.trials is not None and args.trials < 1:
        raise HarnessError(f"--trials must be at least 1, got {args.trials}")
    if args.n_workers < 1:
        raise HarnessError(f"--n-workers must be at least 1, got {args.n_workers}")
    opts = TuneOptions(recipe=args.recipe, overrides=tuple(args.overrides), out=args.out, storage=args.storage,
                       study_name=args.study_name, trials=args.trials, sampler=args.sampler, pruner=args.pruner,
                       n_workers=args.n_workers, worker=args.worker, heartbeat=args.heartbeat, refit=args.refit)
    tune(opts, worker_argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every trial is written and the process group destroyed: leave now, without C++ static
        # destructors. At interpreter exit a rank aborted in gloo's teardown in about one job in
        # six ("terminate called without an active exception", SIGABRT), failing a finished study.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
