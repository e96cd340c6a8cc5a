"""Non-finite losses and gradients: the update is skipped on every process, counted and logged,
and too many in a row stop the run.

A finite loss can still give a non-finite gradient (an overflow in bf16, a wrong kernel), which
would poison the optimizer's state for good; so the gradients are checked too, once per update,
with one fused norm over all of them (an overflow of their squares counts as non-finite). Under
fp16 the GradScaler does that check itself.

With a fused optimizer (AdamW or SGD, on a CPU or GPU) the skip happens on the device: the flag is
handed to the fused kernel as `found_inf`, the hook AMP's GradScaler uses, which leaves the
weights and the optimizer state untouched. The step loop then never waits for the host; the
flags are read where the loop syncs anyway (every `train.log_every` steps, before a checkpoint,
at the end of the epoch). An unfused optimizer reads the flags every step and skips the step.
Either way a skipped update keeps its slot in the schedule, as with GradScaler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from harness.errors import HarnessError
from harness.train.state import TrainState

GRADIENT = 2.0  # a pending flag: 0.0 fine, 1.0 a non-finite loss, 2.0 a finite loss with non-finite gradients


def loss_flag(acc: Any, loss: torch.Tensor) -> torch.Tensor:
    """1.0 where the loss is NaN or inf on any process, else 0.0; stays on the device."""
    bad = (~torch.isfinite(loss.detach())).float()
    if acc.num_processes > 1:
        bad = acc.reduce(bad, reduction="sum").clamp(max=1.0)
    return bad


def gradient_flag(params: Iterable[torch.nn.Parameter], device: torch.device) -> torch.Tensor:
    """1.0 where a gradient holds NaN or inf, or values whose squares overflow, else 0.0; stays on
    the device. Gradients are already averaged over the processes, so every process agrees."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    norms = torch._foreach_norm(grads)  # one fused kernel; what clip_grad_norm_ uses
    return (~torch.isfinite(torch.stack([n.float() for n in norms]).sum())).float()


def note_gradient(state: TrainState, flag: torch.Tensor, epoch: int, step: int, update: int) -> torch.Tensor:
    """Record a gradient flag for this step, folded into its loss flag when that is still pending
    (a non-finite loss names the cause); returns the step's flag as 0.0 or 1.0, for `arm`."""
    key = (epoch, step, update)
    if state.pending_flags and state.pending_flags[-1][:3] == key:
        loss = state.pending_flags.pop()[3]
        flag = torch.where(loss > 0, loss, GRADIENT * flag)
    else:
        flag = GRADIENT * flag
    state.pending_flags.append((*key, flag))
    return flag.clamp(max=1.0)


def _inner(optimizer: Any) -> Any:
    return getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper holds the torch optimizer


def skips_on_device(optimizer: Any) -> bool:
    """True for an optimizer whose fused step honours `found_inf` (fused AdamW or SGD; the
    harness's SGD starts its momentum buffers at zero, `optim.zero_momentum`, so that a skipped
    first step leaves nothing uninitialised)."""
    inner = _inner(optimizer)
    return isinstance(inner, (torch.optim.AdamW, torch.optim.SGD)) and all(g.get("fused") for g in inner.param_groups)


def arm(optimizer: Any, flag: torch.Tensor, acc: Any) -> None:
    """The next `step()` skips where `flag` is 1. Under fp16 the GradScaler sets found_inf itself
    (a NaN loss gives non-finite gradients, which it catches)."""
    if acc.scaler is None:
        inner = _inner(optimizer)
        inner.grad_scale, inner.found_inf = None, flag


class UpdateGuard:
    """The step loop's one handle on non-finite values, for one epoch. Per step, `loss(...)` flags
    the loss; at each gradient sync, `may_update(...)` checks the gradients and arms the fused
    skip, and `next_window()` starts the next accumulation window. `bad`: the window was read on
    the host and found non-finite, so it neither steps nor keeps its gradients."""

    def __init__(self, state: TrainState, say: Callable[[str], None]):
        self.state, self.say = state, say
        self.on_device = skips_on_device(state.optimizer)
        self.next_window()

    def next_window(self) -> None:
        self.flag = torch.zeros((), device=self.state.accelerator.device)
        self.bad = False

    def loss(self, loss: torch.Tensor, step: int) -> torch.Tensor | None:
        """The loss's flag (1.0: non-finite on some process) when backward should run; None when
        an optimizer that cannot skip on the device read it now and found the window bad."""
        st = self.state
        flag = loss_flag(st.accelerator, loss)
        st.pending_flags.append((st.epoch, step, st.update, flag))
        self.flag = torch.maximum(self.flag, flag)
        if not self.on_device and settle(st, self.say):
            self.bad = True
            return None
        return flag

    def may_update(self, step: int) -> bool:
        """At a gradient sync: whether the optimizer steps (on the device, a fused step may still
        skip). Under fp16 the GradScaler checks the gradients itself."""
        st, acc = self.state, self.state.accelerator
        if not self.bad and acc.scaler is None:
            step_flag = note_gradient(st, gradient_flag(st.model.parameters(), acc.device), st.epoch, step, st.update)
            if self.on_device:
                self.flag = torch.maximum(self.flag, step_flag)
            elif settle(st, self.say):
                self.bad = True
        if self.bad:
            return False
        if self.on_device:
            arm(st.optimizer, self.flag, acc)
        return True


def settle(state: TrainState, say: Callable[[str], None]) -> int:
    """Read the pending flags (one host sync), log each skipped step, keep the count of
    non-finite steps in a row, and stop the run at `train.max_nonfinite`. Returns how many of
    the pending steps were non-finite."""
    if not state.pending_flags:
        return 0
    pending, state.pending_flags = state.pending_flags, []
    flags = torch.stack([flag for *_, flag in pending]).tolist()
    limit, bad = state.recipe.train.max_nonfinite, 0
    for (epoch, step, update, _), flag in zip(pending, flags, strict=True):
        if not flag:
            state.nonfinite_steps = 0
            continue
        bad += 1
        state.nonfinite_steps += 1
        state.epoch_nonfinite += 1
        what = "gradient" if flag == GRADIENT else "loss"
        say(f"non-finite {what} at fold {state.fold} epoch {epoch + 1} step {step} (update {update}): "
            "update skipped on every process")
        if state.nonfinite_steps >= limit:
            raise HarnessError(f"stopping: {state.nonfinite_steps} non-finite losses or gradients in a row "
                               f"(train.max_nonfinite={limit}); last at epoch {epoch + 1} step {step}")
    return bad
