"""`harness data check DIR`: list every unreadable image before a long run finds it."""

from __future__ import annotations

from pathlib import Path

from harness.config.schema import DataConfig
from harness.data.check import scan
from harness.data.competition import load_competition


def check_folder(root: Path, recipe_path: Path | None = None) -> int:
    cfg = DataConfig(root=str(root))
    if recipe_path is not None:
        from dataclasses import replace

        from harness.config.recipe import load_recipe

        cfg = replace(load_recipe(recipe_path).data, root=str(root))
    comp = load_competition(cfg)
    splits = [(n, s) for n, s in (("train", comp.train), ("test", comp.test), ("holdout", comp.holdout)) if s]
    total_bad = 0
    for name, split in splits:
        bad = scan(split.paths, workers=2)
        total_bad += len(bad)
        print(f"{name}: {len(split)} images, {len(bad)} unreadable")
        for i, why in sorted(bad.items()):
            print(f"  {split.paths[i]}: {why}")
    print(f"{comp.layout} layout, {comp.num_classes} classes: {', '.join(comp.classes[:20])}")
    return 1 if total_bad else 0
