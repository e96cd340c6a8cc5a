"""Write the reference docs from the code, so they cannot drift from it:

- docs/hooks.md: every hook of harness/hookspecs.py (signature, docstring, what `build` returns and
  the data format there, from harness/specs.py), the callback lifecycle (`harness.specs.Callback`),
  the FoldState fields (harness/specs.py), the state and checkpoint contract, the contract
  test class and a complete example (the `harness plugin new` template) for each;
- docs/recipe.md: every recipe key, from the core's config dataclasses and every built-in
  component's options dataclass (key, type, default, and the field's comment as its meaning);
- docs/cli/VERB.md: the `--help` of every verb in harness.cli.VERBS (examples included), and an index.

    python -m harness.docs           # rewrite docs/
    python -m harness.docs --check   # exit 1, naming the stale files, if docs/ is not current

tests/test_docs.py runs the check.
"""

from __future__ import annotations

import argparse
import sys

from harness.docs.cli import render_cli
from harness.docs.hooks import render_hooks
from harness.docs.markdown import DOCS, NOTICE, fixed_environment
from harness.docs.recipe import render_recipe


def render_all() -> dict[str, str]:
    """docs/ path (relative) -> the text it should hold."""
    with fixed_environment():
        return {"hooks.md": render_hooks(), "recipe.md": render_recipe(), **render_cli()}


def stale(pages: dict[str, str]) -> list[str]:
    """The pages whose file differs, and generated CLI pages no verb has any more."""
    out = [rel for rel, text in pages.items() if not (DOCS / rel).is_file() or (DOCS / rel).read_text() != text]
    if (DOCS / "cli").is_dir():
        out += [f"cli/{p.name} (no such verb)" for p in sorted((DOCS / "cli").glob("*.md"))
                if f"cli/{p.name}" not in pages and NOTICE in p.read_text()]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/ from the code.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/ is not current; write nothing")
    args = parser.parse_args(argv)
    pages = render_all()
    if args.check:
        bad = stale(pages)
        for rel in bad:
            print(f"docs/{rel} is out of date: run python -m harness.docs", file=sys.stderr)
        return 1 if bad else 0
    for rel, text in pages.items():
        path = DOCS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote docs/{rel}")
    for extra in stale(pages):
        if extra.endswith("(no such verb)"):
            (DOCS / extra.split(" ")[0]).unlink()
            print(f"removed docs/{extra.split(' ')[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
