"""Progress: a rich bar (epoch, step, loss, images/s) on a terminal, one line per epoch otherwise;
silent on every process but the main one. `harness -q` silences it (the command prints its final
result itself); `harness -v` adds a line for every step whose loss the host has read
(`train.log_every`). Colour only on a terminal: rich decides, and honours NO_COLOR."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol


class Progress:
    def __init__(self, enabled: bool, folds: int, epochs: int):
        from harness import console

        self.enabled = enabled and not console.quiet()
        self.verbose = console.verbose()
        self.folds, self.epochs = folds, epochs
        self.bar: Any = None
        self.live = self.enabled and sys.stderr.isatty()
        self.loss: float | None = None
        self.t0 = time.perf_counter()
        self.images = 0
        self.fold, self.steps, self.per_epoch = 0, 0, 1  # for -v: where in the fold a step is

    def __enter__(self) -> Progress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[ips]} img/s"), TimeRemainingColumn(),
                transient=False,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def start(self, fold: int, total: int, done: int = 0) -> Any:
        """A fold begins (or resumes, `done` steps in): its bar's task, or None without a bar."""
        if not self.enabled:
            return None
        self.t0, self.images = time.perf_counter(), 0
        self.fold, self.steps, self.per_epoch = fold, done, max(1, total // self.epochs)
        if self.bar is not None:
            return self.bar.add_task(f"fold {fold + 1}/{self.folds}", total=total, completed=done, loss="-", ips="-")
        return None

    def step(self, task: Any, images: int, loss: float | None) -> None:
        """One training step of `images` images; `loss` when it was read from the device."""
        if not self.enabled:
            return
        self.images += images
        self.steps += 1
        if loss is not None:
            self.loss = loss
            if self.verbose:
                epoch, step = divmod(self.steps - 1, self.per_epoch)
                ips = self.images / max(time.perf_counter() - self.t0, 1e-9)
                self.message(f"fold {self.fold + 1}/{self.folds} epoch {epoch + 1}/{self.epochs} "
                             f"step {step + 1}/{self.per_epoch}: loss {self.loss:.4f} {ips:.1f} img/s")
        if self.bar is not None:
            ips = self.images / max(time.perf_counter() - self.t0, 1e-9)
            shown = "-" if self.loss is None else f"{self.loss:.4f}"
            self.bar.update(task, advance=1, loss=shown, ips=f"{ips:.1f}")

    def epoch(self, task: Any, metrics: dict[str, Any]) -> None:
        """An epoch ended: one line with its losses, scores, rate."""
        if not self.enabled:
            return
        m = metrics
        self.t0, self.images = time.perf_counter(), 0
        line = (
            f"fold {m['fold'] + 1}/{self.folds} epoch {m['epoch'] + 1}/{self.epochs}: "
            f"train_loss {m['train_loss']:.4f} val_loss {m['val_loss']:.4f} val_score {m['val_score']:.4f}"
            + "".join(f" ({k.removeprefix('val_score_')} {v:.4f})" for k, v in m.items() if k.startswith("val_score_"))
            + f" lr {m['lr']:.2e} {m['train_img_per_s']:.1f} img/s"
        )
        self.message(line)

    def message(self, line: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)


class FoldProgress(Protocol):
    """What a fold reports as it trains (harness.train.progress.Progress on the console)."""

    def message(self, line: str) -> None: ...

    def start(self, fold: int, total: int, done: int = 0) -> Any: ...

    def step(self, task: Any, images: int, loss: float | None) -> None: ...

    def epoch(self, task: Any, metrics: dict[str, Any]) -> None: ...
