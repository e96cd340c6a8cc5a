"""What a kind's template is: its kind (whose hook the package implements and whose contract
class its tests inherit, from harness.kinds), the module of the package (a working example trick,
labelled as one, to replace with the author's own) and one extra property test."""

from __future__ import annotations

from dataclasses import dataclass

from harness.kinds import kind_of


@dataclass(frozen=True)
class Template:
    kind: str  # `harness plugin new --kind`: a kind's singular with underscores, such as "loss"
    module: str  # the package's __init__.py, with __PLACEHOLDERS__ filled by scaffold.render
    test: str  # one property test, appended after the contract class
    test_imports: str  # what the extra test needs
    stand_in: str  # what the example code is, in words ("the Poly-1 loss (Leng et al. 2022)")

    @property
    def hook(self) -> str:
        """The hook the package implements, such as harness_losses."""
        return kind_of(self.kind).hook

    @property
    def contract(self) -> str:
        """The harness.testing contract class its tests inherit."""
        return kind_of(self.kind).contract
