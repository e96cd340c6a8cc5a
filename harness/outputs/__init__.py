"""What a run writes: checkpoints, prediction tables, the submission, logs and plots."""
