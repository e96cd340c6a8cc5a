"""The contract every callback passes (`harness.testing.CallbackContract`)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from harness.specs import Batch
from harness.testing.contracts.base import Contract, assert_same, files_under, fresh_cwd, through_checkpoint


class CallbackContract(Contract):
    """A callback goes through the real events of a fold on `harness.testing.train_state()` (a
    `Linear(8, C)` model, its optimizer and the recipe `recipe`): `on_batch` returns a `Batch`,
    `lr_factor` is finite and >= 0, `eval_models` returns the same modules every time, and
    `state_dict` survives a checkpoint: a callback restored from it, on a copy of the state,
    goes on exactly as the original does. Its files go to `state.run_dir` (or `state.fold_dir`),
    written on the main process only: the same epochs on another rank write nothing, and neither
    rank writes into the working directory."""

    kind = "callbacks"
    recipe: ClassVar[dict[str, Any]] = {}

    def state(self, rank: int = 0) -> Any:
        from harness.testing.state import train_state

        torch.manual_seed(0)
        return train_state(self.recipe, num_classes=self.num_classes, rank=rank)

    def epoch(self, cb: Any, state: Any, epoch: int, steps: int = 2) -> list[Any]:
        """One epoch of events in the core's order, on batches that depend only on (epoch, step);
        returns what the callback did that the core sees (extras, learning-rate factors, candidates,
        stop requests), to compare a resumed callback with the original."""
        trace: list[Any] = []
        state.epoch = epoch
        cb.on_epoch_start(state)
        for step in range(steps):
            g = torch.Generator().manual_seed(1000 * epoch + step)
            n = 6
            b = self.batch(torch.randint(0, self.num_classes, (n,), generator=g),
                           torch.randn(n, 3, 4, 4, generator=g))
            b = cb.on_batch(state, b)
            assert isinstance(b, Batch) and len(b) == n, "on_batch must return the batch (a Batch)"
            trace.append(dict(b.extras))
            logits = state.model(b.images.flatten(1)[:, :8])
            loss = nn.functional.cross_entropy(logits, b.target)
            state.optimizer.zero_grad()
            loss.backward()
            for group in state.optimizer.param_groups:
                factor = cb.lr_factor(state, group.get("part", "head"))
                assert np.isfinite(factor) and factor >= 0, f"lr_factor {factor}"
                group["lr"] = 0.1 * factor
                trace.append(float(factor))
            state.optimizer.step()
            state.update += 1
            cb.after_optimizer_step(state)
        models = cb.eval_models(state)
        assert all(isinstance(m, nn.Module) for m in models.values())
        again = cb.eval_models(state)
        assert all(again[k] is m for k, m in models.items()), "eval_models must return the same modules"
        assert all(k.isidentifier() and k.islower() for k in models), f"candidate names {sorted(models)}"
        scores = {"val_score": 0.5 + 0.1 * epoch, **{f"val_score_{k}": 0.55 + 0.1 * epoch for k in models}}
        state.metrics = {"fold": state.fold, "epoch": epoch, "train_loss": float(loss.detach()), "val_loss": 1.0 - 0.1 * epoch,
                         "lr": 0.1, **scores}
        cb.on_epoch_end(state)
        state.history.append(state.metrics)
        return [*trace, sorted(models), state.stop, state.stop_run]

    def test_events_and_state_round_trip(self) -> None:
        state, cb = self.state(), self.build()
        cb.on_fold_start(state)
        for epoch in range(2):
            self.epoch(cb, state, epoch)
        saved = through_checkpoint(cb.state_dict())
        assert isinstance(saved, dict)
        # a resume: a new callback on a copy of the state, started, then loaded (the core's order)
        copy = self.state()
        copy.unwrapped.load_state_dict(state.unwrapped.state_dict())
        copy.load_state_dict(state.state_dict())
        again = self.build()
        again.on_fold_start(copy)
        again.load_state_dict(saved)
        assert_same(again.state_dict(), cb.state_dict())
        for epoch in (2, 3):  # the resumed callback goes on exactly as the original
            assert_same(self.epoch(again, copy, epoch), self.epoch(cb, state, epoch), f"epoch {epoch} after a resume")
            assert_same(again.state_dict(), cb.state_dict())

    def test_writes_only_on_the_main_process(self) -> None:
        written = {}
        with fresh_cwd() as cwd:
            for rank in (1, 0):
                state, cb = self.state(rank), self.build()
                cb.on_fold_start(state)
                for epoch in range(2):
                    self.epoch(cb, state, epoch)
                written[rank] = files_under(state.run_dir), files_under(cwd)
        assert written[1] == ([], []), (f"on a process that is not the main one the callback wrote {written[1][0]} in "
                                        f"the run folder and {written[1][1]} in the working directory; write only "
                                        "`if state.accelerator.is_main_process`")
        assert not written[0][1], (f"the callback wrote {written[0][1]} in the working directory; write under "
                                   "state.run_dir or state.fold_dir")

    def test_default_options_build(self) -> None:
        assert self.build() is not None
