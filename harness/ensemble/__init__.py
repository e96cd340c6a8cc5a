"""`harness ensemble`: combine the OOF, test and holdout predictions of compatible runs (and of
earlier ensembles), at the level of folds and of the saved per-view TTA logits, with the
ensemblers of the `harness_ensemblers` hook; score the fitted weights out of sample (nested over
the folds, or over parts of the rows where the members share one fold) next to the plain mean;
write a folder that is itself a valid run for later tools.

    members.py      read and align run folders (`load_pool`)
    views.py        TTA as data: per-view scores, view selection
    temperature.py  temperature and power scaling of one member
    plan.py         what is fitted (views, temperature, member weights) and how it is applied
    nested.py       nested cross-validation of any fitted procedure
    pipeline.py     fit, check and combine (`run_ensemble`)
    correlation.py  the members' OOF correlation and its heatmap
    report.py       ensemble.json and the terminal table
    write.py        the ensemble folder
"""

from harness.ensemble.members import Member, Pool, load_pool
from harness.ensemble.pipeline import EnsembleResult, run_ensemble
from harness.ensemble.plan import MemberPlan, Plan, Settings
from harness.ensemble.report import print_table, summarize
from harness.ensemble.write import write_ensemble

__all__ = ["EnsembleResult", "Member", "MemberPlan", "Plan", "Pool", "Settings", "load_pool", "print_table",
           "run_ensemble", "summarize", "write_ensemble"]
