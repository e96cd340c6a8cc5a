"""The docs match the code, in datasette's way: every hook is documented in docs/hooks.md and has a
`test_hook_<name>`; docs/hooks.md, docs/recipe.md and docs/cli/ are what python -m harness.docs writes
now; every recipe key has a meaning; every CLI verb has a page; the README points to them."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from harness import docs, hookspecs
from harness.cli import VERBS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = [name for name, fn in vars(hookspecs).items() if name.startswith("harness_") and inspect.isfunction(fn)]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docs.render_all()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook: str) -> None:
    text = (DOCS / "hooks.md").read_text()
    assert f"## `{hook}`" in text, f"{hook} has no section in docs/hooks.md: run python python -m harness.docs"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    pattern = re.compile(rf"^def test_hook_{hook}\b", re.M)
    assert any(pattern.search(p.read_text()) for p in (ROOT / "tests").rglob("test_*.py")), (
        f"no test_hook_{hook} in tests/ (tests/test_hooks.py holds one per hook)")


def test_docs_are_current(generated: dict[str, str]) -> None:
    stale = docs.stale(generated)
    assert not stale, f"out of date: {', '.join(stale)}; run python python -m harness.docs"


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_verb_has_a_page(verb: str, generated: dict[str, str]) -> None:
    assert (DOCS / "cli" / f"{verb}.md").is_file(), f"docs/cli/{verb}.md is missing: run python python -m harness.docs"
    assert "examples:" in generated[f"cli/{verb}.md"], f"harness {verb} --help shows no examples (EXAMPLES)"


def test_every_recipe_key_has_a_meaning() -> None:
    from harness.config.options import component_options, describe
    from harness.config.recipe import CORE
    from harness.config.schema import TTAConfig
    from harness.plugin_manager import KINDS, load_plugins

    keys = [o for section, cls in [*CORE.items(), ("tta", TTAConfig)] for o in describe(cls, section)]
    plugins = load_plugins()
    for kind in KINDS:
        for name, spec in plugins.of_kind(kind).items():
            if plugins.builtin(plugins.owner(kind, name)):
                keys += component_options(kind, name, getattr(spec, "options", type(None)))
    undocumented = [o.key for o in keys if not o.doc]
    assert not undocumented, f"give these fields a comment (harness/config/options.py): {undocumented}"


def test_recipe_reference_lists_label_smoothing() -> None:
    text = (DOCS / "recipe.md").read_text()
    for key in ("loss.smoothing", "batch_transforms.mixup_cutmix.cutmix_alpha", "tta.multi_scale.scales",
                "data.extension"):
        assert f"`{key}`" in text, key


def test_readme_points_to_the_references() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in ("docs/hooks.md", "docs/recipe.md", "docs/cli/"):
        assert target in readme, target
