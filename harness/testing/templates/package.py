"""The files of a plugin package around its component modules: `pyproject.toml` (one entry point
per component module), the README, the package's `__init__.py` when it holds several components,
the head of each test file, and the paragraph that labels the template code as an example."""

from __future__ import annotations

EXAMPLE = ("EXAMPLE CODE, to replace: `harness plugin new` wrote __STAND_IN__ here as a stand-in for your own "
           "__KIND__ (it is not a harness built-in). Replace the math, the options and the `doc` line with yours; "
           "keep the shapes of `build` and of the `@hookimpl` at the bottom.")

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
    plugins = (__MODULE__,)  # the module on disk: the tests run before `pip install -e .` too
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A harness plugin package: __SUMMARY__."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["harness"]

# These lines are the whole integration: harness loads every module in the `harness` group, each
# as a plugin of its own (a mistake in one leaves the others loading).
[project.entry-points.harness]
__ENTRY_POINTS__

[tool.setuptools]
packages = ["__PACKAGE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''

PACKAGE_INIT = '''"""__DIST__: harness components, one module each, each module a plugin of its own (an entry
point each in pyproject.toml):

__LIST__

A module holds one trick: the math first, its options dataclass (the recipe keys), `build`, and the
`@hookimpl` at the bottom. Add a component by adding a module, its entry point and its test file.
"""
'''

README = '''# __DIST__: a harness plugin package

__INTRO__

```toml
[project.entry-points.harness]
__ENTRY_POINTS__
```

__LAYOUT__

__EXAMPLE_NOTE__

## Use

```bash
pip install -e .
harness plugins __FIRST__        # its documentation, how to select it, its options
```

__USAGE__

## Test

```bash
python -m pytest -q             # each component's contract class from harness.testing, plus a property test
```

Each test file sets `plugins = (module,)`, which registers the module as it is here: the tests run
before `pip install -e .`, and after it alike. A misspelled hook is left out with a one-line warning
naming this package (its other hooks load); a module that fails to import is skipped (`harness -v
plugins` shows the traceback); the contract tests fail on either. A component named like a built-in
is ignored in favour of the built-in, so pick names of your own.
'''
