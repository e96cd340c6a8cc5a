"""docs/cli/: the `--help` of every verb, its sub-verbs and an index."""

from __future__ import annotations

import argparse

from harness.docs.markdown import NOTICE, cell, code, table


def _verb_parsers() -> dict[str, argparse.ArgumentParser]:
    from harness.cli import VERBS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {verb: sub.choices[verb] for verb in VERBS}


def _nested(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for child in dict.fromkeys(a.choices.values()):
                found += [child, *_nested(child)]
    return found


def render_cli() -> dict[str, str]:
    import importlib

    from harness.cli import VERBS

    pages: dict[str, str] = {}
    index = [NOTICE, "", "# Command line", "", "`harness [-q | -v] COMMAND ...`: `-q` prints errors and the final result "
             "line only, `-v` adds detail (per-step progress, component docs, the traceback of an unexpected error). "
             "Exit codes: 0 success, 1 an unexpected failure, 2 a usage or configuration error, 130 interrupted.", "",
             *table(["command", "what it does"], [])]
    index = index[:-2] + ["| command | what it does |", "|---|---|"]
    for verb, p in _verb_parsers().items():
        module = importlib.import_module(f"harness.cli.{VERBS[verb]}")
        lines = [NOTICE, "", f"# harness {verb}", "", getattr(module, "HELP", ""), "", *code(p.format_help())]
        for child in _nested(p):
            lines += ["", f"## {child.prog}", "", *code(child.format_help())]
        pages[f"cli/{verb}.md"] = "\n".join(lines).rstrip() + "\n"
        index.append(f"| [`harness {verb}`]({verb}.md) | {cell(getattr(module, 'HELP', ''))} |")
    pages["cli/README.md"] = "\n".join(index) + "\n"
    return pages
