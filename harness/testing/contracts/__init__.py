"""Contract test classes, one per kind of component (as optuna's `BasicSamplerTestCase`): subclass
one, set `name` (and `options`, the recipe keys), and pytest runs the checks that every component
of that kind must pass, built through the real plugin manager:

    import harness_random_erasing
    from harness.testing import BatchTransformContract

    class TestRandomErasing(BatchTransformContract):
        name = "random_erasing"
        options = {"prob": 0.5}
        plugins = (harness_random_erasing,)   # not needed once the package is installed

Class attributes: `name`; `options` (the component's recipe keys; for a model, [model] keys);
`plugins` (plugin objects or modules to register besides the installed ones); `extras` (names of
per-sample extras the component reads from `batch.extras`: each is filled with float (N, C)
probabilities whose rows sum to 1; override `make_extras` for other contents); `recipe` (recipe
data for the `TrainState` a callback sees, such as `{"cv": {"metric": "log_loss"}}`);
`num_classes` and `image_size` of the small fold the checks build for.

`build_component(kind, name, options)` builds any component the same way, for your own tests.
"""

from harness.testing.contracts.base import build_component, context, probabilities
from harness.testing.contracts.batch_transform import BatchTransformContract
from harness.testing.contracts.callback import CallbackContract
from harness.testing.contracts.ensembler import EnsemblerContract
from harness.testing.contracts.loss import LossContract
from harness.testing.contracts.metric import MetricContract
from harness.testing.contracts.model import ModelContract
from harness.testing.contracts.sample_transform import SampleTransformContract
from harness.testing.contracts.sampler import SamplerContract
from harness.testing.contracts.scheduler import ScheduleContract, SchedulerContract
from harness.testing.contracts.tta_view import TTAViewContract

__all__ = [
    "BatchTransformContract",
    "CallbackContract",
    "EnsemblerContract",
    "LossContract",
    "MetricContract",
    "ModelContract",
    "SampleTransformContract",
    "SamplerContract",
    "ScheduleContract",
    "SchedulerContract",
    "TTAViewContract",
    "build_component",
    "context",
    "probabilities",
]
