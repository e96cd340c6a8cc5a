"""pyproject.toml lists every package on disk: a package left out is missing from a wheel (a plain
`pip install .`), though an editable install would still find it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for top, folder in [("harness", ROOT / "harness"), *setuptools["package-dir"].items()]:
        base = ROOT / folder if isinstance(folder, str) else folder
        for init in base.rglob("__init__.py"):
            on_disk.add(".".join([top, *init.parent.relative_to(base).parts]))
    assert on_disk == set(setuptools["packages"])
