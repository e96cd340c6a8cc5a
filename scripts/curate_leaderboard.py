"""The curated rows of `leaderboard/`: shipped recipes and ensembles of them, scored on the shipped
competitions and appended to `leaderboard/NAME/leaderboard.csv` (`--board leaderboard`).

    python scripts/curate_leaderboard.py digits
        trains recipes/digits.toml with three timm test networks (about 2 minutes on 2 CPU cores),
        ensembles them (mean, hill climbing) and submits all five
    python scripts/curate_leaderboard.py hymenoptera --from runs/bench-ensemble lite0 lite1 lite2 ens-mean ens-hill_climb
        submits finished runs on the hymenoptera competition (bench/accuracy/ensemble_real.py trains them)
    python scripts/curate_leaderboard.py cifar10 --from runs/bench_stack baseline-s0 stack-s0 teacher
        the same for the cifar10 competition (bench/accuracy/stack.py trains them); it needs the
        competition folder its shipped definition names: harness competition new cifar10 --from
        ../shared/data/cifar10 --out data/cifar10-comp --link

Runs are copied to, or trained in, runs/curated/NAME/ (git ignores runs/), so a row's `source`
names a folder the command made. A member already there is reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "leaderboard"
# name -> (--set overrides on recipes/digits.toml, what the row says)
DIGITS = {
    "resnet": (["train.seed=0"], "recipes/digits.toml (test_resnet, seed 0)"),
    "efficientnet": (["model.name='test_efficientnet'", "train.seed=1"], "recipes/digits.toml, model test_efficientnet, seed 1"),
    "convnext": (["model.name='test_convnext'", "train.seed=2"], "recipes/digits.toml, model test_convnext, seed 2"),
}
METHODS = ("mean", "hill_climb")
RUN_FILES = ("run.json", "metrics.json", "submission.csv", "oof.csv", "folds.csv", "recipe.toml", "ensemble.json")


def harness(*args: str) -> None:
    print("$ harness", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, check=True)


def submit(run: Path, competition: str, message: str) -> None:
    harness("submit", str(run.relative_to(ROOT) / "submission.csv"), "--competition", competition,
            "--board", str(BOARD.relative_to(ROOT)), "--message", message)


def digits(out: Path) -> None:
    if not (ROOT / "data" / "digits" / "train.csv").is_file():
        harness("data", "digits", "data/digits")
    for name, (sets, _) in DIGITS.items():
        if (out / name / "recipe.toml").is_file() and not (out / name / "run.json").is_file():
            harness("run", "recipes/digits.toml", "--out", str(out / name), "--resume")  # an interrupted one
        elif not (out / name / "run.json").is_file():
            harness("run", "recipes/digits.toml", "--out", str(out / name), *[a for s in sets for a in ("--set", s)])
    for method in METHODS:
        if not (out / f"ens-{method}" / "run.json").is_file():
            harness("ensemble", *[str(out / n) for n in DIGITS], "--out", str(out / f"ens-{method}"), "--method", method)
    for name, (_, text) in DIGITS.items():
        submit(out / name, "digits", text)
    for method in METHODS:
        members = json.loads((out / f"ens-{method}" / "ensemble.json").read_text())["members"]
        weights = ", ".join(f"{m['name']} {m['weight']:.2f}" for m in members)
        submit(out / f"ens-{method}", "digits", f"ensemble ({method}) of the three digits.toml runs; weights {weights}")


def copy_run(src: Path, dst: Path) -> None:
    """The files a submission and its provenance need (not the fold models)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in RUN_FILES:
        if (src / f).is_file():
            shutil.copy2(src / f, dst / f)


def finished(competition: str, src: Path, names: list[str], messages: dict[str, str], out: Path) -> None:
    for name in names:
        run = out / name
        if not (run / "submission.csv").is_file():
            copy_run((src / name).resolve(), run)
        submit(run, competition, messages.get(name, name))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("competition", choices=["digits", "hymenoptera", "cifar10"])
    p.add_argument("names", nargs="*", help="hymenoptera, cifar10: the run folders under --from to submit")
    p.add_argument("--from", dest="src", type=Path, help="hymenoptera, cifar10: the folder holding the finished runs")
    p.add_argument("--message", action="append", default=[], metavar="NAME=TEXT", help="the row's message for run NAME")
    args = p.parse_intermixed_args()  # the run names may follow --from
    out = ROOT / "runs" / "curated" / args.competition
    if args.competition == "digits":
        digits(out)
    else:
        if args.src is None or not args.names:
            p.error(f"{args.competition} needs --from DIR and the run names to submit")
        finished(args.competition, args.src, args.names, dict(m.split("=", 1) for m in args.message), out)


if __name__ == "__main__":
    main()
