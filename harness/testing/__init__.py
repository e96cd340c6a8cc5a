"""Fixtures and contract tests for people who write harness plugin packages.

    from harness.testing import LossContract

    class TestFocal(LossContract):
        name = "focal"          # the component name your plugin registers
        options = {"gamma": 2}  # recipe keys for it

Run it with pytest next to your own tests. `make_kaggle_competition` and `make_imagefolder`
write small, real image competitions (learnable colour patterns) for end-to-end tests.
"""

from harness.testing.contracts import (
    CallbackContract,
    LossContract,
    SamplerContract,
    ScheduleContract,
    context,
)
from harness.testing.data import make_imagefolder, make_kaggle_competition
from harness.testing.state import train_state

__all__ = [
    "CallbackContract",
    "LossContract",
    "SamplerContract",
    "ScheduleContract",
    "context",
    "make_imagefolder",
    "make_kaggle_competition",
    "train_state",
]
