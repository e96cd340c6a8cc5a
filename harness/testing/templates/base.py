"""What a kind's template is: the hook it implements, the contract class its tests inherit, the
module of the package (a working trick) and one extra property test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    hook: str  # the hook the package implements, such as harness_losses
    contract: str  # the harness.testing contract class its tests inherit
    module: str  # the package's __init__.py, with __PLACEHOLDERS__ filled by scaffold.render
    test: str  # one property test, appended after the contract class
    test_imports: str  # what the extra test needs
