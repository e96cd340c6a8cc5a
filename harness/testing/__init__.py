"""Fixtures, contract tests and a scaffold for people who write harness plugin packages.

    import harness_focal_loss
    from harness.testing import LossContract

    class TestFocal(LossContract):
        name = "focal"                  # the component name your plugin registers
        options = {"gamma": 2}          # recipe keys for it
        plugins = (harness_focal_loss,) # the module as it is on disk: the tests run before `pip install -e .`

Run it with pytest next to your own tests: there is one contract class per kind of component
(`ModelContract`, `SampleTransformContract`, `BatchTransformContract`, `LossContract`,
`SamplerContract`, `ScheduleContract`, `TTAViewContract`, `EnsemblerContract`, `CallbackContract`,
`MetricContract`). `plugins` registers the modules (or plugin objects) it lists besides the installed
ones, so the contract checks the code in your working tree whether or not the package is installed
(an installed module is not registered twice). Every contract class also fails when its plugin did
not load in full (a misspelled hook, which loading only warns about).

One package, several kinds: `harness plugin new kit --kind loss:poly1 --kind metric:map3 --kind
callback:lr_log` writes one module per component (`harness_kit/poly1.py`, ...), each with its own
entry point in `pyproject.toml` (`poly1 = "harness_kit.poly1"`: each module is a plugin of its own,
so a mistake in one leaves the others loading) and its own test file, whose contract class sets
`plugins = (harness_kit.poly1,)`. Any layout works as long as every module with `@hookimpl`
functions is an entry point (or is imported by one).

`build_component(kind, name, options)` builds any component as a run would; `train_state()` is a
real `TrainState` for driving a callback (a temporary `run_dir`; `rank=1` for the view of a process
that is not the main one); `make_kaggle_competition` and `make_imagefolder` write small, real image
competitions (learnable colour patterns) for end-to-end tests; `make_tree_toy` a three-level
label tree (`TREE_TOY`) as ImageFolder nesting. `harness plugin new NAME --kind KIND`
writes a package that starts from all of this, its code a labelled example to replace.
"""

from harness.testing import contracts
from harness.testing.contracts import *  # noqa: F403 - every contract class and helper it lists in __all__
from harness.testing.data import TREE_TOY, make_imagefolder, make_kaggle_competition, make_tree_toy
from harness.testing.state import train_state

__all__ = [*contracts.__all__, "TREE_TOY", "make_imagefolder", "make_kaggle_competition", "make_tree_toy", "train_state"]
