"""Knowledge distillation beyond the loss (`harness_plugins.loss.distill`): where the teacher's
predictions come from, and pseudo-labelling with them.

- `teacher.py`: the `teacher` callback: a finished run's fold models, any model, or a run's
  stored soft labels, fold-aware and kept apart from the student; pseudo-labelled images.
- `sources.py`: reading a teacher run or ensemble folder, and the check that it shares folds.
- `net.py`: the frozen teacher network that the distillation loss calls on the (mixed) batch.
- `pseudo.py`: the unlabelled pool and which of its images train, with which labels.
"""
