"""The structure figures of the architecture issue, counted the same way at any commit:

    python bench/tools/structure.py [--root DIR]     # DIR: a checkout (default: this one)

- the five largest modules of `harness/` (lines);
- the lines a newcomer reads to follow one fold: starting at `run_fold`, every function of the
  trainer and inference (`FOLLOW`: what a fold runs, not the recipe or the plugins it is built
  from) that a call names (by its name, so a name defined twice counts both), followed
  transitively; the figure is the sum of those functions' lines, with the files they sit in;
- import cycles come from `../shared/tools/import_cycles.py`, upward imports from
  `tests/test_layers.py`.

Reading by name over-counts a little (two functions called `predict` both count); it is the same
rule before and after, which is what a comparison needs.
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# The trainer and inference, wherever a commit keeps them: what a fold runs.
FOLLOW = ("train", "predict", "runtime", "outputs", "pooling.py")


def functions(pkg: Path) -> dict[str, list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]]:
    out: dict[str, list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]] = {}
    for path in sorted(p for p in pkg.rglob("*.py") if p.relative_to(pkg).parts[0] in FOLLOW):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(node.name, []).append((path, node))
            elif isinstance(node, ast.ClassDef):  # calling a class runs its __init__
                init = [b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == "__init__"]
                out.setdefault(node.name, []).extend((path, b) for b in init)
    return out


def called_names(fn: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                names.add(f.id)
            elif isinstance(f, ast.Attribute):
                base = f.value
                # calls into plugins (plugins.loss(...), ctx...) and into libraries stop the walk
                if isinstance(base, ast.Name) and base.id in {"plugins", "ctx", "np", "torch", "json", "math", "os"}:
                    continue
                names.add(f.attr)
    return names


# Names too generic to follow: they resolve to library methods far more often than to ours.
GENERIC = {"__init__", "get", "items", "append", "update", "write", "read", "to", "apply", "copy", "load",
           "save", "step", "log", "start", "format", "split", "build", "state_dict", "load_state_dict", "train",
           "eval", "zero_grad", "backward", "reduce", "item", "float", "sum", "mean", "subset", "close"}


def fold_reading(root: Path) -> tuple[int, dict[str, int]]:
    pkg = root / "harness"
    defs = functions(pkg)
    seen: set[tuple[Path, int]] = set()
    queue = deque(["run_fold"])
    lines, per_file = 0, {}
    while queue:
        name = queue.popleft()
        for path, fn in defs.get(name, []):
            key = (path, fn.lineno)
            if key in seen:
                continue
            seen.add(key)
            n = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            lines += n
            rel = str(path.relative_to(root))
            per_file[rel] = per_file.get(rel, 0) + n
            queue.extend(c for c in called_names(fn) if c not in GENERIC)
    return lines, per_file


def largest(root: Path, k: int = 5) -> list[tuple[str, int]]:
    sizes = [(str(p.relative_to(root / "harness")), len(p.read_text(encoding="utf-8").splitlines()))
             for p in (root / "harness").rglob("*.py")]
    return sorted(sizes, key=lambda x: -x[1])[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    lines, per_file = fold_reading(args.root)
    print(json.dumps({
        "largest_modules": largest(args.root),
        "fold_reading_lines": lines,
        "fold_reading_files": len(per_file),
        "fold_reading_by_file": dict(sorted(per_file.items(), key=lambda x: -x[1])),
    }, indent=2))


if __name__ == "__main__":
    main()
