"""`harness predict`: a finished run's folds and TTA views applied to new images, from the run
folder alone (no training data): which images (`images.py`) and the fold ensemble (`folds.py`)."""

from harness.predict.folds import Prediction, predict_run
from harness.predict.images import check_readable, collect

__all__ = ["Prediction", "check_readable", "collect", "predict_run"]
