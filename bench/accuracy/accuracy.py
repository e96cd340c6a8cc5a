"""Accuracy on real photos, against a bare fine-tuning loop: `recipes/finetune.toml`,
`recipes/lite0_finetune.toml` and `bench/baselines/bare_finetune.py` on both sets of
../shared/data, over seeds, in one invocation.

    python bench/accuracy/accuracy.py --seeds 3                         # the three main arms on both sets
    python bench/accuracy/accuracy.py --seeds 2 --arms layer_decay two_level fixed_size   # the ablations
    python bench/accuracy/accuracy.py --seeds 1 --arms finetune bare --sets hymenoptera
    python bench/accuracy/accuracy.py --seeds 1 --arms lite1 lite2      # the model zoo at native sizes
    python bench/accuracy/accuracy.py --seeds 3 --arms finetune lite1 lite2 --ensemble   # and their mean
    python bench/accuracy/accuracy.py --seeds 3 --arms finetune lite1 lite2 --ensemble mean hill_climb \
        --rescore --scratch DIR      # train nothing: ensembles of the finished runs in DIR

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
(finetune with EfficientNet-Lite1 at 240 px and Lite2 at 260 px). The arms run in a rotating
order over sets and seeds, so a busy machine slows each alike. Appends every run and the
summary, with the machine, to bench/results/accuracy.jsonl; prints a markdown table.

`--ensemble [METHOD ...]` adds a row per set, seed and method (`ensemble` for the plain mean,
`ensemble_hill_climb`, ...): `harness ensemble` through the CLI, of that seed's harness arms, which
share their folds (the same cv.seed). It scores val/ from the ensemble's holdout.csv; a second
split (clothing test/) is the members' own probabilities on it weighted as ensemble.json says,
checked against the CLI's holdout.csv on val/ to 1e-5. `--rescore` trains nothing and makes these
rows from the finished runs in `--scratch`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import RESULTS, machine, record, set_args  # noqa: E402

ROOT = BENCH.parent
BARE_FINETUNE = BENCH / "baselines" / "bare_finetune.py"
SPLITS = {"hymenoptera": ("val",), "clothing": ("val", "test")}
HARNESS_ARMS: dict[str, tuple[str, Callable[[argparse.Namespace], list[str]]]] = {  # recipe, its --set
    "finetune": ("finetune.toml", lambda a: []),
    "lite0_finetune": ("lite0_finetune.toml", lambda a: []),
    "layer_decay": ("finetune.toml", lambda a: [f"train.layer_decay={a.layer_decay}"]),
    "two_level": ("finetune.toml", lambda a: ["train.layer_decay=0.0", f"train.backbone_lr_mult={a.two_level_mult}"]),
    "fixed_size": ("finetune.toml", lambda a: ["augment.start_size=1.0", f"augment.start_scale_min={a.scale_min}"]),
    "lite1": ("finetune.toml", lambda a: ["model.name='efficientnet_lite1'", "data.image_size=240"]),
    "lite2": ("finetune.toml", lambda a: ["model.name='efficientnet_lite2'", "data.image_size=260"]),
}
ARMS = ("bare", *HARNESS_ARMS)
DEFAULT_ARMS = ("bare", "finetune", "lite0_finetune")


def cpu_name() -> str:
    """The CPU model and the matrix/vector extensions that decide fp32 and bf16 speed."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "unknown CPU")
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    ext = [name for flag, name in (("avx512f", "AVX-512"), ("avx512_bf16", "AVX-512 BF16"), ("amx_tile", "AMX"))
           if flag in flags] or ["AVX2" if "avx2" in flags else "no AVX2"]
    return f"{model} ({os.cpu_count()} cores; {', '.join(ext)}{'' if 'amx_tile' in flags else '; no AMX'})"


def timed(cmd: list[str]) -> tuple[str, float, float]:
    """Run `cmd` from the repository root: (stdout, wall seconds, CPU seconds of it and its workers)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')[-3000:]}")
        return out.read().decode(), wall, usage.ru_utime + usage.ru_stime


def scores(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    pred = probs.argmax(1)
    return {"accuracy": float((pred == y).mean()), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "f1_macro": float(f1_score(y, pred, average="macro"))}


def labelled_split(folder: Path, classes: list[str]) -> Any:
    from harness.data.competition import IMAGE_EXTENSIONS, Split

    paths = sorted(p for c in classes for p in (folder / c).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    labels = np.array([classes.index(p.parent.name) for p in paths], dtype=np.int64)
    return Split(tuple(str(p.relative_to(folder)) for p in paths), tuple(paths), labels)


def run_classes(run_dir: Path) -> tuple[list[str], list[int]]:
    """The run's classes and the folds it trained, from its manifest."""
    from harness.outputs.manifest import read_manifest

    manifest = read_manifest(run_dir)
    return list(manifest.classes), list(manifest.folds_trained)


def fold_ensemble(run_dir: Path, split: Any, folds: Sequence[int], sets: Sequence[str] = ()) -> np.ndarray:
    """Probabilities of the run's `folds` on `split` (each fold's TTA views ensembled, then the
    folds), as the run's recipe changed by `sets` would predict them."""
    from accelerate import Accelerator

    from harness.config.recipe import load_recipe
    from harness.plugin_manager import load_plugins
    from harness.predict import load_fold_model, pool_run, predict_split

    plugins = load_plugins()
    recipe = load_recipe(run_dir / "recipe.toml", sets, plugins)
    ensemble = plugins.ensembler(recipe.ensemble.name, recipe.ensemble.options)
    acc = Accelerator(cpu=True)
    logits = [predict_split(load_fold_model(run_dir, k, plugins, recipe=recipe), split, acc, recipe)[0] for k in folds]
    return pool_run(ensemble, logits)


def predict_labelled(run_dir: Path, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The run's fold ensemble on a labelled ImageFolder split that the run did not predict itself:
    (labels, probabilities)."""
    classes, folds = run_classes(run_dir)
    split = labelled_split(folder, classes)
    return split.labels, fold_ensemble(run_dir, split, folds)


def holdout_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of a run's or an ensemble's holdout.csv."""
    import pandas as pd

    frame = pd.read_csv(run_dir / "holdout.csv")
    classes = list(frame.columns[2:])
    return np.array([classes.index(str(c)) for c in frame["label"]]), frame[classes].to_numpy()


def split_probs(run_dir: Path, data: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, probabilities) of a run on every labelled split of its set: val/ from its
    holdout.csv, any other split predicted from the run folder."""
    return {"val": holdout_probs(run_dir), **{s: predict_labelled(run_dir, data / s) for s in SPLITS[data.name][1:]}}


# Per (set, seed): each harness arm's run folder and its (labels, probabilities) on every split,
# for the --ensemble row. Kept in memory only.
MEMBERS: dict[tuple[str, int], dict[str, tuple[Path, float, dict[str, tuple[np.ndarray, np.ndarray]]]]] = {}


def run_harness(arm: str, data: Path, seed: int, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    recipe, arm_sets = HARNESS_ARMS[arm]
    out = scratch / f"{arm}-{data.name}-{seed}"
    sets = [f"data.root='{data}'", f"train.seed={seed}", f"data.cache_dir='{scratch / 'cache'}'", *arm_sets(args),
            *args.overrides]
    _, wall, cpu = timed([sys.executable, "-m", "harness", "run", str(ROOT / "recipes" / recipe), "--out", str(out),
                          *set_args(sets)])
    m = json.loads((out / "metrics.json").read_text())
    resolved = (out / "recipe.toml").read_text()  # what ran, for telling rows of an edited recipe apart
    row: dict[str, Any] = {"recipe_sha1": hashlib.sha1(resolved.encode()).hexdigest()[:12],
                           "recipe_file_sha1": hashlib.sha1((ROOT / "recipes" / recipe).read_bytes()).hexdigest()[:12],
                           "sets": sets,
                           "run_wall_s": wall, "cpu_s": cpu, "cv": m["cv_score"], "train_img_per_s": m["train_img_per_s"],
                           "predict_img_per_s": m["predict_img_per_s"]}
    start = time.perf_counter()
    probs = split_probs(out, data)
    extra = time.perf_counter() - start
    row["splits"] = {split: scores(*yp) for split, yp in probs.items()}
    row["wall_s"] = wall + extra
    MEMBERS.setdefault((data.name, seed), {})[arm] = (out, row["wall_s"], probs)
    return row


def ensemble_arm(method: str) -> str:
    return "ensemble" if method == "mean" else f"ensemble_{method}"


def run_ensemble(set_name: str, seed: int, scratch: Path, method: str = "mean") -> dict[str, Any] | None:
    """`harness ensemble --method METHOD` of the seed's harness arms: val/ from its holdout.csv, any
    other split from the members' probabilities weighted as ensemble.json says (checked against the
    CLI's holdout.csv on val/)."""
    members = MEMBERS.get((set_name, seed), {})
    if len(members) < 2:
        return None
    out = scratch / f"{ensemble_arm(method)}-{set_name}-{seed}"
    dirs = [str(d) for d, _, _ in members.values()]
    _, wall, cpu = timed([sys.executable, "-m", "harness", "ensemble", *dirs, "--out", str(out), "--method", method])
    plan = json.loads((out / "ensemble.json").read_text())
    weights = np.array([m["weight"] for m in plan["members"]], dtype=float)
    if plan["temperature"] != 1.0 or plan["power"] != 1.0 or len(weights) != len(members):
        raise SystemExit(f"{out}: only plain weighted means of the members are rescored here")
    weights /= weights.sum()

    def pooled(split: str) -> np.ndarray:
        return np.tensordot(weights, np.stack([p[split][1] for _, _, p in members.values()]), axes=1)

    y, cli = holdout_probs(out)
    gap = float(np.abs(cli - pooled("val")).max())
    if gap > 1e-5:  # ensemble.json rounds its weights to 6 places
        raise SystemExit(f"{out}: the CLI's holdout probabilities differ from the members' weighted mean by {gap:.2g}")
    splits = {"val": scores(y, cli)}
    for split in SPLITS[set_name][1:]:
        splits[split] = scores(next(iter(members.values()))[2][split][0], pooled(split))
    cv = json.loads((out / "metrics.json").read_text())["cv_score"]
    # Its wall: the members' runs and the ensembling, what a user waits for from nothing.
    return {"members": list(members), "weights": dict(zip(members, weights.round(4).tolist(), strict=True)),
            "ensemble_dir": str(out), "cv": cv, "cv_nested": plan["scores"].get("oof_nested"), "splits": splits,
            "wall_s": wall + sum(w for _, w, _ in members.values()), "cpu_s": cpu, "ensemble_wall_s": wall}


def reload_members(data: Path, seed: int, scratch: Path, arms: Sequence[str]) -> None:
    """MEMBERS of a finished invocation (--rescore): each arm's run folder in `scratch`, its val/
    from holdout.csv and any other split predicted again."""
    for arm in arms:
        out = scratch / f"{arm}-{data.name}-{seed}"
        if arm == "bare" or not (out / "metrics.json").is_file():
            continue
        probs = split_probs(out, data)
        wall = json.loads((out / "metrics.json").read_text())["wall_seconds"]
        MEMBERS.setdefault((data.name, seed), {})[arm] = (out, wall, probs)


def run_bare(data: Path, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    out, wall, cpu = timed([sys.executable, str(BARE_FINETUNE), str(data), "--eval", *SPLITS[data.name],
                            "--seed", str(seed)])
    res = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": cpu, "splits": res["scores"]}


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
    names = [*args.arms, *(ensemble_arm(m) for m in args.ensemble)]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {s: {a: [] for a in names} for s in args.sets}
    for line in (RESULTS / "accuracy_runs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["when"] >= args.report_since and row["set"] in results and row["arm"] in results[row["set"]]:
            results[row["set"]][row["arm"]].append(row)
    md = table(results)
    print(cpu_name() + "\n\n" + md + "\n\n" + "\n".join(verdict(results) + target_checks(results)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--sets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    p.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS)
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
                        "(`ensemble` for mean, the default; `ensemble_hill_climb`, ...)")
    p.add_argument("--rescore", action="store_true",
                   help="train nothing: the --ensemble rows from the arms' finished runs in --scratch")
    p.add_argument("--scratch", type=Path, default=None)
    p.add_argument("--report-since", default="", metavar="'YYYY-MM-DD HH:MM'",
                   help="run nothing: the table of the runs in results/accuracy_runs.jsonl finished since then")
    args = p.parse_args()
    args.ensemble = [] if args.ensemble is None else (args.ensemble or ["mean"])
    if args.report_since:
        return report(args)
    if args.rescore and (args.scratch is None or not args.ensemble):
        p.error("--rescore needs --scratch (the finished invocation's) and --ensemble")
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="harness-accuracy-"))
    scratch.mkdir(parents=True, exist_ok=True)
    progress = RESULTS / "accuracy_runs.jsonl"
    fill = {}
    sizes = {cache_side(arm, args) for arm in args.arms if arm != "bare"}
    for set_name in args.sets if not args.rescore else ():
        fill[set_name] = fill_cache(args.data / set_name, scratch, sizes)
        print(f"cache filled for {set_name} in {fill[set_name]:.0f} s", flush=True)
    ensembles = [ensemble_arm(m) for m in args.ensemble]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {s: {a: [] for a in [*args.arms, *ensembles]}
                                                           for s in args.sets}
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
                    row = run_ensemble(set_name, seed, scratch, args.ensemble[ensembles.index(arm)])
                    if row is None:
                        continue
                    row["rescored"] = args.rescore
                else:
                    row = run_bare(data, seed, args) if arm == "bare" else run_harness(arm, data, seed, scratch, args)
                row.update(arm=arm, set=set_name, seed=seed)
                results[set_name][arm].append(row)
                print(json.dumps(row), flush=True)
                with open(progress, "a") as fh:
                    fh.write(json.dumps({"machine": machine(), "cpu": cpu_name(), "when": time.strftime("%Y-%m-%d %H:%M"),
                                         **row}) + "\n")
    md = table(results)
    print("\n" + cpu_name() + "\n\n" + md + "\n")
    checks = verdict(results) + target_checks(results)
    print("\n".join(checks))
    record("accuracy", {"cpu": cpu_name(), "seeds": args.seeds, "arms": args.arms, "sets": args.sets,
                        "overrides": args.overrides, "two_level_mult": args.two_level_mult,
                        "layer_decay": args.layer_decay, "cache_fill_s": fill,
                        "table": md, "target": checks, "raw": results})


if __name__ == "__main__":
    main()
