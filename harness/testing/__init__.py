"""Fixtures, contract tests and a scaffold for people who write harness plugin packages.

    from harness.testing import LossContract

    class TestFocal(LossContract):
        name = "focal"          # the component name your plugin registers
        options = {"gamma": 2}  # recipe keys for it

Run it with pytest next to your own tests: there is one contract class per kind of component
(`ModelContract`, `SampleTransformContract`, `BatchTransformContract`, `LossContract`,
`SamplerContract`, `ScheduleContract`, `TTAViewContract`, `EnsemblerContract`, `CallbackContract`,
`MetricContract`). `build_component(kind, name, options)` builds any component as a run would;
`train_state()` is a real `TrainState` for driving a callback; `make_kaggle_competition` and
`make_imagefolder` write small, real image competitions (learnable colour patterns) for end-to-end
tests. `harness plugin new NAME --kind KIND` writes a package that starts from all of this.
"""

from harness.testing import contracts
from harness.testing.contracts import *  # noqa: F403 - every contract class and helper it lists in __all__
from harness.testing.data import make_imagefolder, make_kaggle_competition
from harness.testing.state import train_state

__all__ = [*contracts.__all__, "make_imagefolder", "make_kaggle_competition", "train_state"]
