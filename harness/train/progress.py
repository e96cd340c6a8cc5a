"""Progress: a rich bar (epoch, step, loss, images/s) on a terminal, one line per epoch otherwise;
silent on every process but the main one. `harness -q` silences it (the command prints its final
result itself); `harness -v` adds a line for every step whose loss the host has read
(`train.log_every`). Colour only on a terminal: rich decides, and honours NO_COLOR."""

from __future__ import annotations

import sys
import time
from typing import Any


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

    def __call__(self, event: str, **kw: Any) -> Any:
        if not self.enabled:
            return None
        if event == "start":
            self.t0, self.images = time.perf_counter(), 0
            self.fold, self.steps, self.per_epoch = kw["fold"], kw.get("done", 0), max(1, kw["total"] // self.epochs)
            if self.bar is not None:
                return self.bar.add_task(f"fold {kw['fold'] + 1}/{self.folds}", total=kw["total"],
                                         completed=kw.get("done", 0), loss="-", ips="-")
            return None
        if event == "message":
            self.message(kw["text"])
            return None
        if event == "step":
            self.images += kw["images"]
            self.steps += 1
            if kw["loss"] is not None:
                self.loss = kw["loss"]
                if self.verbose:
                    epoch, step = divmod(self.steps - 1, self.per_epoch)
                    ips = self.images / max(time.perf_counter() - self.t0, 1e-9)
                    self.message(f"fold {self.fold + 1}/{self.folds} epoch {epoch + 1}/{self.epochs} "
                                 f"step {step + 1}/{self.per_epoch}: loss {self.loss:.4f} {ips:.1f} img/s")
            if self.bar is not None:
                ips = self.images / max(time.perf_counter() - self.t0, 1e-9)
                loss = "-" if self.loss is None else f"{self.loss:.4f}"
                self.bar.update(kw["task"], advance=1, loss=loss, ips=f"{ips:.1f}")
            return None
        if event == "epoch":
            m = kw["metrics"]
            self.t0, self.images = time.perf_counter(), 0
            line = (
                f"fold {m['fold'] + 1}/{self.folds} epoch {m['epoch'] + 1}/{self.epochs}: "
                f"train_loss {m['train_loss']:.4f} val_loss {m['val_loss']:.4f} val_score {m['val_score']:.4f}"
                + "".join(f" ({k.removeprefix('val_score_')} {v:.4f})" for k, v in m.items() if k.startswith("val_score_"))
                + f" lr {m['lr']:.2e} {m['train_img_per_s']:.1f} img/s"
            )
            self.message(line)
        return None

    def message(self, line: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)
