"""What can be wrong with a plugin as it loads, found and worded in one place: a hook
implementation under a name that is no harness hook, or with arguments its hook does not pass
(left out, the plugin's other hooks load), and an import that fails (the whole plugin is skipped,
with the file and line that raised and, under -v, the traceback).

`Problem` records each one, so that an error about a component nobody offers can name the plugins
that did not load in full, and a contract test can fail on its own plugin's problems.
"""

from __future__ import annotations

import difflib
import inspect
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import suggest


@dataclass(frozen=True)
class Problem:
    """A third-party plugin that did not load in full."""

    plugin: str  # its registered (or entry-point) name
    source: str  # "'typo_kit' (typo-kit 0.1.0)", as messages name it
    reason: str  # what follows the source: "left out its unknown hook 'harness_callback' (did you mean ...)"
    skipped: bool  # True: none of its hooks loaded; False: the hooks in `reason` were left out
    meant: tuple[str, ...] = ()  # the hooks a left-out implementation was probably meant for

    def may_offer(self, kind: str) -> bool:
        """Whether components of `kind` (such as "losses") may be among what did not load."""
        return self.skipped or not self.meant or f"{hookspecs.PROJECT}_{kind}" in self.meant

    @property
    def text(self) -> str:
        return f"{self.source} {self.reason}"


def hook_names() -> list[str]:
    return [n for n in vars(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_")]


def unmarked(obj: object) -> list[str]:
    """Hook names that `obj` defines without `@hookimpl` (pluggy ignores those silently)."""
    return [n for n in hook_names() if callable(getattr(obj, n, None))]


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def raised_at(exc: BaseException) -> str:
    """' (at FILE:LINE)': the innermost line of real code the exception passed, which for an import
    inside a plugin's submodule is that import (importlib's own frames are skipped)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {_shown(exc.filename)}:{exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")
              and "importlib" not in Path(f.filename).parts]
    return f" (at {_shown(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""


def _shown(filename: str) -> str:
    path, cwd = Path(filename).resolve(), Path.cwd().resolve()
    return path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else path.as_posix()


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


def _required(fn: Any) -> set[str]:
    """The arguments `fn` needs (no default), as pluggy passes hook arguments by name."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty}


class HarnessPluginManager(pluggy.PluginManager):
    """pluggy's manager for the `harness` hooks, which leaves out a plugin's hook implementation that
    names no hook, or needs arguments its hook does not pass, instead of refusing the whole plugin
    (pluggy's `parse_hookimpl_opts` is the documented place to choose what counts as an
    implementation). What it left out of a plugin is `left_out(plugin)`: one (reason, the hook it
    was probably meant for, or "") each."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self._left: dict[int, list[tuple[str, str]]] = {}

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None:
            return None
        hook = opts.get("specname") or name
        caller = getattr(self.hook, hook, None)
        if caller is None or not caller.has_spec():
            near = difflib.get_close_matches(hook, hook_names(), n=1, cutoff=0.5)
            self._left.setdefault(id(plugin), []).append((f"unknown hook {hook!r}{suggest(hook, hook_names())}",
                                                          near[0] if near else ""))
            return None
        extra = sorted(_required(getattr(plugin, name)) - set(caller.spec.argnames))
        if extra:
            self._left.setdefault(id(plugin), []).append(
                (f"{hook!r}, which needs argument(s) {', '.join(extra)} that the hook does not pass", hook))
            return None
        return opts

    def left_out(self, plugin: object) -> list[tuple[str, str]]:
        """What the last registration of `plugin` left out (and forget it)."""
        return self._left.pop(id(plugin), [])
