"""An ImageFolder dataset repeated N times through symbolic links, so that an epoch on a fast GPU
lasts long enough to measure steady throughput rather than the loader's start-up (hymenoptera's
fold of 163 images is five batches of 32). Each link is its own path; the photos are the same.

    python bench/tools/repeat_data.py ../shared/data/hymenoptera /tmp/hymenoptera_x8 8
"""

from __future__ import annotations

import argparse
from pathlib import Path


def repeat(src: Path, dst: Path, times: int) -> int:
    """Link train/ `times` over (copy k of `a.jpg` is `a_rK.jpg`) and the other splits once."""
    made = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        copies = times if rel.parts[0] == "train" else 1
        for k in range(copies):
            link = dst / rel.with_name(f"{path.stem}_r{k}{path.suffix}" if copies > 1 else path.name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path.resolve())
            made += 1
    return made


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("times", type=int)
    args = p.parse_args()
    if args.dst.exists():
        raise SystemExit(f"{args.dst} exists: pass a new folder")
    print(f"{repeat(args.src, args.dst, args.times)} links under {args.dst}")


if __name__ == "__main__":
    main()
