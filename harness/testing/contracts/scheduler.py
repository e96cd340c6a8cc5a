"""The contract every scheduler passes (`harness.testing.ScheduleContract`, also named SchedulerContract)."""

from __future__ import annotations

import numpy as np

from harness.testing.contracts.base import Contract, through_checkpoint


class ScheduleContract(Contract):
    """A schedule's `factor(update)` is finite and >= 0 at every update, and its state (if any)
    round-trips through a checkpoint."""

    kind = "schedulers"

    def test_factors_finite_and_state_round_trips(self) -> None:
        ctx = self.context()
        sched = self.build(ctx)
        factors = [sched.factor(u) for u in range(ctx.total_steps + 1)]
        assert all(np.isfinite(f) and f >= 0 for f in factors)
        for metric in (0.5, 0.4, 0.4, 0.3):
            sched.on_epoch_end(metric)
        again = self.build(ctx)
        again.load_state_dict(through_checkpoint(sched.state_dict()))
        assert [again.factor(u) for u in range(ctx.total_steps)] == [sched.factor(u) for u in range(ctx.total_steps)]


SchedulerContract = ScheduleContract
