"""What every benchmark shares: running a timed command, naming the machine, recording a result."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def timed(cmd: list[str], cwd: Path, stderr_too: bool = False) -> tuple[str, float, float]:
    """Run `cmd`; return stdout (and stderr), wall seconds and peak RSS in MiB (GNU time)."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as rss:
        start = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], cwd=cwd, capture_output=True, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        wall = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
        return res.stdout + (res.stderr if stderr_too else ""), wall, int(Path(rss.name).read_text().split()[-1]) / 1024


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {gpu}"


def record(name: str, summary: dict[str, Any]) -> None:
    """Print the summary (without its raw measurements) and append it, with the machine and the
    time, to results/NAME.jsonl."""
    row = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M"), **summary}
    print(json.dumps({k: v for k, v in row.items() if k != "raw"}, indent=1))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{name}.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
