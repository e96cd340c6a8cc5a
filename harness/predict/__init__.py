"""Inference, from a run folder alone (no training data): a finished fold's model (`fold_model`),
its TTA predictions (`tta`), their pooling by the run's ensembler (`pooling`), the whole run on new
images (`folds`, behind `harness predict`), and which images (`images`). The trainer predicts
its folds through here too. The names below are the public face."""

from harness.predict.fold_model import FoldModel, load_fold_model, predict_split
from harness.predict.folds import Prediction, predict_run
from harness.predict.images import check_readable, collect
from harness.predict.pooling import log_pool, pool_folds, pool_run, pool_views
from harness.predict.tta import predict

__all__ = ["FoldModel", "Prediction", "check_readable", "collect", "load_fold_model", "log_pool", "pool_folds",
           "pool_run", "pool_views", "predict", "predict_run", "predict_split"]
