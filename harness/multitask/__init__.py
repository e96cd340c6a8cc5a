"""Multi-task heads: one backbone serves several label sets (`data.tasks`: more label columns of a
Kaggle CSV, or levels of a label hierarchy). The first task is the run's own (its classes, its
OOF, submission, ensemble and export); each further task gets its own head, loss weight and, in
the last stage, its own BatchNorm statistics and affine parameters with the convolutions shared
(`model.task_bn`). Training routes each image's loss to the tasks it is labelled for; a run
predicts every task at once, and writes each task's OOF, holdout and test predictions and
scores beside its own.

- `bn`: the per-task BatchNorm and the last stage split from the backbone, per family.
- `model`: the network with its heads.
- `labels`: each task's classes and labels, from the competition.
- `loss`: the run's loss on its own task plus the weighted cross-entropy of the others.
"""
