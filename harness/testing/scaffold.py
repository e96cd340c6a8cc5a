"""`harness plugin new`: the files of a new plugin package, one small working trick per kind of
component, each with its contract tests. The templates are also the examples of docs/hooks.md.

A package for NAME `random-erasing` is the folder `harness-random-erasing/` holding
`pyproject.toml` (the entry point), `harness_random_erasing/__init__.py` (the trick, its options
with a comment per field, and the `@hookimpl` at the bottom), `tests/test_random_erasing.py` (the
contract class of its kind, plus one property test) and `README.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.testing.templates import TEMPLATES

TEST = '''"""Contract tests: the checks harness runs on every __KIND__ (`harness.testing.__CONTRACT__`),
and a property of this one. `python -m pytest -q` here, installed or not."""

from __future__ import annotations

from typing import Any, ClassVar

__IMPORTS__
from harness.testing import __CONTRACT__

import __MODULE__


class Test__CLASS__(__CONTRACT__):
    name = "__NAME__"
    options: ClassVar[dict[str, Any]] = {}  # recipe keys, as a recipe would set them
    plugins = (__MODULE__,)  # this package as it is here, installed or not
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A harness plugin: the __KIND__ `__NAME__`."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["harness"]

# This line is the whole integration: harness loads every module in the `harness` group.
[project.entry-points.harness]
__NAME__ = "__MODULE__"

[tool.setuptools]
packages = ["__MODULE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''

README = '''# __DIST__: a harness plugin

The __KIND__ `__NAME__` for [harness](https://github.com/), as a package of its own. The whole
integration is one entry point in `pyproject.toml`:

```toml
[project.entry-points.harness]
__NAME__ = "__MODULE__"
```

`__MODULE__/__init__.py` holds the trick (the math first), its options dataclass (the recipe keys:
the comment after each field is its documentation, which `harness plugins __NAME__` shows) and, at
the bottom, the `@hookimpl` of `__HOOK__` that offers it. docs/hooks.md of harness documents the
hook, the data format it sees (dtype, range, layout, device) and the lifecycle.

## Use

```bash
pip install -e .
harness plugins __NAME__        # its documentation, how to select it, its options
```

__USAGE__

## Test

```bash
python -m pytest -q             # `__CONTRACT__` from harness.testing: the checks every __KIND__ must pass
```

A plugin that fails to import or misspells a hook is skipped with a one-line warning naming this
package (`harness plugins` shows it); a component named like a built-in is ignored in favour of the
built-in, so pick a name of your own.
'''


@dataclass(frozen=True)
class Scaffolded:
    root: Path
    dist: str
    module: str
    component: str
    files: tuple[Path, ...]


def names(name: str) -> tuple[str, str, str]:
    """(component, module, distribution) of NAME: 'random-erasing' -> ('random_erasing',
    'harness_random_erasing', 'harness-random-erasing')."""
    slug = re.sub(r"^harness[-_]", "", name.strip().lower()).replace("-", "_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise HarnessError(f"plugin name {name!r}: use letters, digits, '-' and '_', starting with a letter "
                           "(such as random-erasing)")
    return slug, f"harness_{slug}", f"harness-{slug.replace('_', '-')}"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return text


def render(name: str, kind: str) -> dict[str, str]:
    """The package's files, relative path -> text."""
    if kind not in TEMPLATES:
        raise HarnessError(f"--kind {kind!r}: choose one of {', '.join(TEMPLATES)}")
    t = TEMPLATES[kind]
    component, module, dist = names(name)
    values = {"TITLE": f"`{component}`, a harness {kind.replace('_', ' ')}", "NAME": component, "MODULE": module,
              "DIST": dist, "CLASS": "".join(w.title() for w in component.split("_")), "KIND": kind.replace("_", " "),
              "CONTRACT": t.contract, "HOOK": t.hook, "IMPORTS": t.test_imports}
    module_text = _fill(t.module, values)
    docstring = module_text.split('"""', 2)[1]
    recipe = [line.removeprefix("    ") for line in docstring.splitlines() if line.startswith("    ") or not line]
    values["USAGE"] = "In a recipe:\n\n```toml\n" + "\n".join(recipe).strip() + "\n```"
    test_text = _fill(TEST + t.test, values)
    if not t.test_imports:
        test_text = test_text.replace("ClassVar\n\n\n", "ClassVar\n\n")
    return {
        "pyproject.toml": _fill(PYPROJECT, values),
        "README.md": _fill(README, values),
        f"{module}/__init__.py": module_text,
        f"tests/test_{component}.py": test_text,
    }


def scaffold(name: str, kind: str, where: Path) -> Scaffolded:
    """Write the package for NAME into WHERE/harness-NAME; an existing folder is an error."""
    component, module, dist = names(name)
    files = render(name, kind)
    root = Path(where) / dist
    if root.exists():
        raise HarnessError(f"{root} already exists; choose another name or --dir")
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return Scaffolded(root, dist, module, component, tuple(written))
