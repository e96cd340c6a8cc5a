"""`harness tune`: an Optuna search over any recipe keys, declared in the recipe's [tune] section.

| module | what it does |
|---|---|
| `space` | parse [tune]: trial settings and searched keys (ranges, choices) |
| `recipes` | the base, trial and tuned recipes; every bound validated before a trial runs |
| `pruner` | the run-time `optuna_pruner` callback (report each epoch, stop a pruned run); pruners by name |
| `sampler` | samplers by name (TPE, random, CMA-ES, grid) |
| `storage` | SQLite / RDB / journal storages; heartbeats and the retry of a dead worker's trial |
| `objective` | one trial in this process, on every rank of a launch |
| `workers` | run trials until the study holds N finished; worker processes |
| `outputs`, `progress` | trials.csv, best.toml, plots, summary.json; the progress over trials |
| `tuner` | from options to outputs (`harness tune`) |
"""

from harness.tune.space import Choice, FloatRange, IntRange, TuneSettings, parse_tune
from harness.tune.tuner import TuneOptions, tune

__all__ = ["TuneOptions", "tune", "TuneSettings", "parse_tune", "FloatRange", "IntRange", "Choice"]
