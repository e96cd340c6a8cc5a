"""Training: one epoch (`loop`), one fold (`fold`), a run (`run`). The names below are the public
face that the Python API and `bench/` use; the modules behind them may move."""

from harness.train.loop import EpochStats, train_one_epoch
from harness.train.optim import build_optimizer
from harness.train.run import RunSummary, run_experiment
from harness.train.sampling import EpochTagged
from harness.train.state import TrainState

__all__ = ["EpochStats", "EpochTagged", "RunSummary", "TrainState", "build_optimizer", "run_experiment",
           "train_one_epoch"]
