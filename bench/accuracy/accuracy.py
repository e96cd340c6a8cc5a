"""Accuracy on real photos, against a bare fine-tuning loop: `recipes/finetune.toml`,
`recipes/lite0_finetune.toml` and `bench/baselines/bare_finetune.py` on both sets of
../shared/data, over seeds, in one invocation.

    python bench/accuracy/accuracy.py --seeds 3                         # the three main arms on both sets
    python bench/accuracy/accuracy.py --seeds 2 --arms layer_decay two_level fixed_size   # the ablations
    python bench/accuracy/accuracy.py --seeds 1 --arms finetune bare --sets hymenoptera
    python bench/accuracy/accuracy.py --seeds 1 --arms lite1 lite2      # the model zoo at native sizes
    python bench/accuracy/accuracy.py --seeds 3 --arms lite2_hires lite2 --hires 320   # Lite2 above its native size
    python bench/accuracy/accuracy.py --seeds 3 --arms lite0_hires lite1_hires lite2_hires --ensemble mean  # all three
    python bench/accuracy/accuracy.py --seeds 3 --arms finetune_fp32 finetune_bf16 --sets hymenoptera
    python bench/accuracy/accuracy.py --seeds 3 --arms finetune lite1 lite2 --ensemble   # and their mean
    python bench/accuracy/accuracy.py --seeds 3 --arms finetune lite1 lite2 --ensemble mean hill_climb \
        --all-seeds --rescore --scratch DIR   # train nothing: ensembles of the finished runs in DIR

Every labelled holdout split is scored: hymenoptera val/; clothing val/ and test/ (test/ is
distributed differently from train/). Accuracy, balanced accuracy and macro F1 from the fold
ensemble's probabilities (TTA views included), the wall and CPU seconds of each run, and the
training and prediction images/s the harness measured. The harness predicts its own holdout
(val/) in the run; a second labelled split (clothing test/) is predicted afterwards from the run
folder (`load_fold_model`), and that time is added to the run's wall time. The decoded-image
cache is filled once per set and size before the first run and its time is reported apart;
the bare loop decodes JPEGs every epoch, as such a loop does.

Arms: `bare` (the yardstick), `finetune`, `lite0_finetune` (the head on frozen features),
`layer_decay` (finetune with train.layer_decay, timm's layer-wise decay), `two_level` (finetune
with a slower backbone, train.backbone_lr_mult), `fixed_size`
(finetune at the final size from the first epoch: no progressive resizing), `lite1` and `lite2`
(`finetune_lite1.toml`, `finetune_lite2.toml`: finetune with EfficientNet-Lite1 at 240 px and Lite2
at 260 px), `lite2_hires` (`finetune_lite2.toml` trained and predicted at `--hires` px, 320 by
default; 1.23x its native size), `lite0_hires` and `lite1_hires` (`finetune.toml` at `--hires-lite0`,
280 px, and `finetune_lite1.toml` at `--hires-lite1`, 296 px: about the same 1.23x), `lite2_hires_5f`,
`lite1_hires_5f`, `lite0_5f` and `lite2_5f` (`lite2_hires`, `lite1_hires`, `finetune` and `lite2` training all five folds
instead of the recipe's two: five fold models averaged; folds 0 and 1 are the two-fold run's models),
`finetune_fp32` and `finetune_bf16` (finetune with `train.precision` fixed: what `auto` picks
on a CPU with bf16 in hardware, against fp32), `finetune_bf16_plain` (bf16 with the
depthwise convolutions on oneDNN's bf16 kernel, `HARNESS_BF16_DEPTHWISE=bf16`: the harness before
its guard sent them to fp32); the pairs' gaps and speed ratios are printed seed by seed. The arms
run in a rotating
order over sets and seeds, so a busy machine slows each alike. Appends every run and the
summary, with the machine, to bench/results/accuracy.jsonl; prints a markdown table.

`--ensemble [METHOD ...]` adds a row per set, seed and method (`ensemble` for the plain mean,
`ensemble_hill_climb`, ...): `harness ensemble` through the CLI, of that seed's harness arms, which
share their folds (the same cv.seed). It scores val/ from the ensemble's holdout.csv; a second
split (clothing test/) is the members' own probabilities on it weighted as ensemble.json says,
checked against the CLI's holdout.csv on val/ to 1e-5. `--rescore` trains nothing and makes these
rows from the finished runs in `--scratch`. `--all-seeds` adds one ensemble a set and method of
every seed's harness arms (`ensemble_all_seeds`, ...: 9 members for 3 arms and 3 seeds), a single
submission and so a single row, without a spread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # labelled.py, photo_ensemble.py, whoever runs this
from common import RESULTS, cpu, last_cpu_seconds, machine, record, timed, timed_run  # noqa: E402
from common import spread as sample_sd  # noqa: E402
from labelled import SPLITS, scores, split_probs  # noqa: E402
from photo_ensemble import ALL_SEEDS, MEMBERS, ensemble_arm, reload_members, run_ensemble  # noqa: E402

ROOT = BENCH.parent
BARE_FINETUNE = BENCH / "baselines" / "bare_finetune.py"
HARNESS_ARMS: dict[str, tuple[str, Callable[[argparse.Namespace], list[str]]]] = {  # recipe, its --set
    "finetune": ("finetune.toml", lambda a: []),
    "lite0_finetune": ("lite0_finetune.toml", lambda a: []),
    "layer_decay": ("finetune.toml", lambda a: [f"train.layer_decay={a.layer_decay}"]),
    "two_level": ("finetune.toml", lambda a: ["train.layer_decay=0.0", f"train.backbone_lr_mult={a.two_level_mult}"]),
    "fixed_size": ("finetune.toml", lambda a: ["augment.start_size=1.0", f"augment.start_scale_min={a.scale_min}"]),
    "lite1": ("finetune_lite1.toml", lambda a: []),
    "lite2": ("finetune_lite2.toml", lambda a: []),
    "lite2_hires": ("finetune_lite2.toml", lambda a: [f"data.image_size={a.hires}"]),
    "lite2_hires_5f": ("finetune_lite2.toml", lambda a: [f"data.image_size={a.hires}", "cv.only=[]"]),
    "lite1_hires_5f": ("finetune_lite1.toml", lambda a: [f"data.image_size={a.hires_lite1}", "cv.only=[]"]),
    "lite0_5f": ("finetune.toml", lambda a: ["cv.only=[]"]),
    "lite2_5f": ("finetune_lite2.toml", lambda a: ["cv.only=[]"]),
    "lite0_hires": ("finetune.toml", lambda a: [f"data.image_size={a.hires_lite0}"]),
    "lite1_hires": ("finetune_lite1.toml", lambda a: [f"data.image_size={a.hires_lite1}"]),
    "finetune_fp32": ("finetune.toml", lambda a: ["train.precision='fp32'"]),
    "finetune_bf16": ("finetune.toml", lambda a: ["train.precision='bf16'"]),
    "finetune_bf16_plain": ("finetune.toml", lambda a: ["train.precision='bf16'"]),
}
ARM_ENV = {"finetune_bf16_plain": {"HARNESS_BF16_DEPTHWISE": "bf16"}}  # an arm's environment, beside its --set
PAIRS = (("finetune_bf16", "finetune_fp32"), ("finetune_bf16", "finetune_bf16_plain"))  # compared seed by seed
ARMS = ("bare", *HARNESS_ARMS)
DEFAULT_ARMS = ("bare", "finetune", "lite0_finetune")


def run_harness(arm: str, data: Path, seed: int, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    recipe, arm_sets = HARNESS_ARMS[arm]
    out = scratch / f"{arm}-{data.name}-{seed}"
    sets = [f"data.root='{data}'", f"train.seed={seed}", f"data.cache_dir='{scratch / 'cache'}'", *arm_sets(args),
            *args.overrides]
    with mock.patch.dict(os.environ, ARM_ENV.get(arm, {})):
        m, _, wall, _ = timed_run(ROOT / "recipes" / recipe, out, sets, ROOT)
    cpu_s = last_cpu_seconds()
    resolved = (out / "recipe.toml").read_text()  # what ran, for telling rows of an edited recipe apart
    row: dict[str, Any] = {"recipe_sha1": hashlib.sha1(resolved.encode()).hexdigest()[:12],
                           "recipe_file_sha1": hashlib.sha1((ROOT / "recipes" / recipe).read_bytes()).hexdigest()[:12],
                           "sets": sets,
                           "run_wall_s": wall, "cpu_s": cpu_s, "cv": m["cv_score"], "train_img_per_s": m["train_img_per_s"],
                           "predict_img_per_s": m["predict_img_per_s"]}
    start = time.perf_counter()
    probs = split_probs(out, data)
    extra = time.perf_counter() - start
    row["splits"] = {split: scores(*yp) for split, yp in probs.items()}
    row["wall_s"] = wall + extra
    MEMBERS.setdefault((data.name, seed), {})[arm] = (out, row["wall_s"], probs)
    return row


def run_bare(data: Path, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    out, wall, _ = timed([sys.executable, str(BARE_FINETUNE), str(data), "--eval", *SPLITS[data.name],
                          "--seed", str(seed)], ROOT)
    res = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": last_cpu_seconds(), "splits": res["scores"]}


def cache_side(arm: str, args: argparse.Namespace) -> int:
    """The shorter side the arm's runs store in the cache."""
    from harness.config.recipe import load_recipe

    recipe_file, arm_sets = HARNESS_ARMS[arm]
    return load_recipe(ROOT / "recipes" / recipe_file, [*arm_sets(args), *args.overrides]).data.cache_side


def fill_cache(data: Path, scratch: Path, sizes: set[int]) -> float:
    """Decode and store every train and holdout image once per stored size, as a first run would."""
    from harness.data.cache import ImageCache
    from harness.data.competition import IMAGE_EXTENSIONS
    from harness.data.images import BadImage

    start = time.perf_counter()
    paths = [p for s in ("train", "val") for p in sorted((data / s).rglob("*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
    for side in sizes:
        cache = ImageCache(scratch / "cache", side)
        for p in paths:
            try:
                cache.ensure(p)
            except BadImage:
                pass
    return time.perf_counter() - start


def spread(xs: list[float], digits: int = 3) -> str:
    mean = statistics.mean(xs)
    return f"{mean:.{digits}f} ± {statistics.stdev(xs):.{digits}f}" if len(xs) > 1 else f"{mean:.{digits}f}"


def table(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = ["| set | split | arm | accuracy | balanced acc. | macro F1 | wall s | x bare wall | CPU s | x bare CPU | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for set_name, arms in results.items():
        bare = arms.get("bare", [])
        bare_wall = statistics.mean(r["wall_s"] for r in bare) if bare else None
        bare_cpu = statistics.mean(r["cpu_s"] for r in bare) if bare else None
        for split in SPLITS[set_name]:
            for arm, rows in arms.items():
                if not rows:
                    continue
                cols = [spread([r["splits"][split][k] for r in rows]) for k in ("accuracy", "balanced_accuracy", "f1_macro")]
                if set_name == "hymenoptera":
                    cols[1] = cols[2] = "-"
                wall, cpu = statistics.mean(r["wall_s"] for r in rows), statistics.mean(r["cpu_s"] for r in rows)
                ratio = f"{wall / bare_wall:.2f}x" if bare_wall else "-"
                cpu_ratio = f"{cpu / bare_cpu:.2f}x" if bare_cpu else "-"
                lines.append(f"| {set_name} | {split} | {arm} | {' | '.join(cols)} | {spread([r['wall_s'] for r in rows], 0)} | "
                             f"{ratio} | {cpu:.0f} | {cpu_ratio} | {len(rows)} |")
    return "\n".join(lines)


def verdict(results: dict[str, dict[str, list[dict[str, Any]]]], arm: str = "finetune") -> list[str]:
    """The target: `arm` at or above the bare loop's mean accuracy on every set and split, within
    1.5x its mean wall time."""
    out = []
    for set_name, arms in results.items():
        a, b = arms.get(arm), arms.get("bare")
        if not a or not b:
            continue
        ratio = statistics.mean(r["wall_s"] for r in a) / statistics.mean(r["wall_s"] for r in b)
        for split in SPLITS[set_name]:
            ma = statistics.mean(r["splits"][split]["accuracy"] for r in a)
            mb = statistics.mean(r["splits"][split]["accuracy"] for r in b)
            ok = ma >= mb and ratio <= 1.5
            out.append(f"{set_name} {split}: {arm} {ma:.4f} vs bare {mb:.4f}, wall {ratio:.2f}x -> {'met' if ok else 'MISSED'}")
    return out


def paired(results: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """Each of PAIRS that ran: the gap A - B of every split's accuracy, seed by seed, mean ± sd,
    and whether it exceeds 2 sd."""
    out = []
    for set_name, arms in results.items():
        for a, b in PAIRS:
            by_seed = {r["seed"]: r for r in arms.get(b, [])}
            rows = [(r, by_seed[r["seed"]]) for r in arms.get(a, []) if r["seed"] in by_seed]
            for split in SPLITS[set_name] if rows else ():
                gaps = [ra["splits"][split]["accuracy"] - rb["splits"][split]["accuracy"] for ra, rb in rows]
                mean, sd = statistics.mean(gaps), sample_sd(gaps)
                out.append(f"{set_name} {split}: {a} - {b} {mean:+.4f} ± {sd:.4f} over {len(gaps)} seeds "
                           f"({', '.join(f'{g:+.4f}' for g in gaps)}) -> {'beyond' if abs(mean) > 2 * sd else 'within'} 2 sd")
            if rows:
                speed = [ra["train_img_per_s"] / rb["train_img_per_s"] for ra, rb in rows]
                out.append(f"{set_name}: training images/s {a} / {b} {statistics.median(speed):.2f}x median "
                           f"({', '.join(f'{r:.2f}' for r in speed)})")
    return out


# The photo-set targets of issue 25 (mean accuracy over seeds).
TARGETS = {("clothing", "val"): 0.93, ("clothing", "test"): 0.95, ("hymenoptera", "val"): 0.96}


def target_checks(results: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """Each harness arm's mean accuracy against the photo-set targets."""
    out = []
    for (set_name, split), goal in TARGETS.items():
        for arm, rows in results.get(set_name, {}).items():
            if rows and arm != "bare":
                mean = statistics.mean(r["splits"][split]["accuracy"] for r in rows)
                out.append(f"{set_name} {split}: {arm} {mean:.4f} (target {goal}) -> {'met' if mean >= goal else 'missed'}")
    return out


def report(args: argparse.Namespace) -> None:
    """The table over every recorded run since a time, of the chosen sets and arms: seeds of
    several invocations together (each row names the recipe text it ran)."""
    names = [*args.arms, *(ensemble_arm(m, pooled) for m in args.ensemble for pooled in (False, True))]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {s: {a: [] for a in names} for s in args.sets}
    for line in (RESULTS / "accuracy_runs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["when"] >= args.report_since and row["set"] in results and row["arm"] in results[row["set"]]:
            results[row["set"]][row["arm"]].append(row)
    md = table(results)
    print(cpu() + "\n\n" + md + "\n\n" + "\n".join(verdict(results) + target_checks(results)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--sets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    p.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS)
    p.add_argument("--hires", type=int, default=320, help="the lite2_hires and lite2_hires_5f arms' training and prediction size")
    p.add_argument("--hires-lite0", type=int, default=280, help="the lite0_hires arm's size (finetune.toml is 224)")
    p.add_argument("--hires-lite1", type=int, default=296, help="the lite1_hires and lite1_hires_5f arms' size (native: 240)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--layer-decay", type=float, default=0.9, help="the layer_decay arm's train.layer_decay")
    # 0.7: the parameter-weighted mean of the backbone rates under layer decay 0.9 (0.71; 0.44 per
    # layer group), so the two_level and layer_decay arms move the backbone about as much in total.
    p.add_argument("--two-level-mult", type=float, default=0.7, help="the two_level arm's train.backbone_lr_mult")
    p.add_argument("--scale-min", type=float, default=0.25, help="finetune.toml's augment.scale_min (fixed_size arm)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="extra --set for every harness arm")
    p.add_argument("--ensemble", nargs="*", default=None, metavar="METHOD",
                   help="add each seed's `harness ensemble` of its harness arms, one row a method "
                        "(`ensemble` for mean, the default; `ensemble_hill_climb`, ...); a method's options "
                        "after a colon: hill_climb:init=all,bags=5")
    p.add_argument("--all-seeds", action="store_true",
                   help="also one ensemble a set and method of every seed's harness arms (`ensemble_all_seeds`)")
    p.add_argument("--rescore", action="store_true",
                   help="train nothing: the --ensemble rows from the arms' finished runs in --scratch")
    p.add_argument("--scratch", type=Path, default=None)
    p.add_argument("--report-since", default="", metavar="'YYYY-MM-DD HH:MM'",
                   help="run nothing: the table of the runs in results/accuracy_runs.jsonl finished since then")
    args = p.parse_args()
    args.ensemble = [] if args.ensemble is None else (args.ensemble or ["mean"])
    if args.report_since:
        return report(args)
    if (args.rescore or args.all_seeds) and not args.ensemble:
        p.error("--rescore and --all-seeds make --ensemble rows: name its methods")
    if args.rescore and args.scratch is None:
        p.error("--rescore needs --scratch (the finished invocation's)")
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="harness-accuracy-"))
    scratch.mkdir(parents=True, exist_ok=True)
    fill = {}
    sizes = {cache_side(arm, args) for arm in args.arms if arm != "bare"}
    for set_name in args.sets if not args.rescore else ():
        fill[set_name] = fill_cache(args.data / set_name, scratch, sizes)
        print(f"cache filled for {set_name} in {fill[set_name]:.0f} s", flush=True)
    ensembles = [ensemble_arm(m) for m in args.ensemble]
    pooled = [ensemble_arm(m, True) for m in args.ensemble] if args.all_seeds else []
    results: dict[str, dict[str, list[dict[str, Any]]]] = {s: {a: [] for a in [*args.arms, *ensembles, *pooled]}
                                                           for s in args.sets}
    progress = RESULTS / "accuracy_runs.jsonl"

    def keep(row: dict[str, Any], arm: str, set_name: str, seed: int | str) -> None:
        row.update(arm=arm, set=set_name, seed=seed)
        results[set_name][arm].append(row)
        print(json.dumps(row), flush=True)
        with open(progress, "a") as fh:
            fh.write(json.dumps({"machine": machine(), "cpu": cpu(), "when": time.strftime("%Y-%m-%d %H:%M"), **row}) + "\n")

    turn = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for set_name in args.sets:
            order = args.arms[turn % len(args.arms):] + args.arms[: turn % len(args.arms)]
            turn += 1
            data = args.data / set_name
            if args.rescore:
                reload_members(data, seed, scratch, args.arms)
            for arm in [*([] if args.rescore else order), *ensembles]:
                if arm in ensembles:
                    row = run_ensemble(set_name, seed, scratch, args.ensemble[ensembles.index(arm)], args.rescore)
                    if row is None:
                        continue
                    row["rescored"] = args.rescore
                else:
                    row = run_bare(data, seed, args) if arm == "bare" else run_harness(arm, data, seed, scratch, args)
                keep(row, arm, set_name, seed)
    for set_name in args.sets:
        for method, arm in zip(args.ensemble, pooled, strict=False):
            if (row := run_ensemble(set_name, ALL_SEEDS, scratch, method, args.rescore)) is not None:
                keep({**row, "rescored": args.rescore}, arm, set_name, "all")
    md = table(results)
    print("\n" + cpu() + "\n\n" + md + "\n")
    checks = verdict(results) + target_checks(results) + paired(results)
    print("\n".join(checks))
    record("accuracy", {"cpu": cpu(), "seeds": args.seeds, "arms": args.arms, "sets": args.sets,
                        "overrides": args.overrides, "two_level_mult": args.two_level_mult,
                        "layer_decay": args.layer_decay, "cache_fill_s": fill,
                        "table": md, "target": checks, "raw": results})


if __name__ == "__main__":
    main()
