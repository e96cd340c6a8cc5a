"""`train.keep_freed_memory`: freed host memory is reused without page-faulting it in again."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

SCRIPT = """
import json, resource, sys
import torch
from harness.runtime.allocator import keep_freed_memory

def faults_per_step(steps=8):
    for _ in range(16):  # warm-up: the heap settles within a few steps
        torch.empty(64 * 2**20, dtype=torch.uint8).fill_(1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        torch.empty(64 * 2**20, dtype=torch.uint8).fill_(1)  # 64 MiB: glibc would mmap it
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps

off = faults_per_step()
took = keep_freed_memory() if sys.argv[1] == "on" else False
print(json.dumps({"took": took, "off": off, "after": faults_per_step()}))
"""


def _run(mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_memory_is_reused_without_page_faults() -> None:
    on, off = _run("on"), _run("off")
    pages = 64 * 2**20 // 4096
    assert on["took"] is True and off["took"] is False
    assert on["off"] > pages / 2 and off["after"] > pages / 2  # by default every 64 MiB buffer faults in again
    assert on["after"] < pages / 20  # kept: reused as it is


FORK_SCRIPT = """
import json, torch
from torch.utils.data import DataLoader
from harness.runtime.allocator import before_fork, keep_freed_memory

def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

keep_freed_memory()
for _ in range(4):
    torch.empty(256 * 2**20, dtype=torch.uint8).fill_(1)  # freed, but kept
kept = rss_mib()
running = DataLoader(list(range(4)), num_workers=1, persistent_workers=True)
for _ in running:
    pass  # its workers now run: no fork ahead
before_fork(running)
still = rss_mib()
before_fork(DataLoader(list(range(4)), num_workers=2))  # would fork: give the free heap back
print(json.dumps({"kept": kept, "still": still, "released": rss_mib()}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_free_heap_is_released_before_workers_fork() -> None:
    """Forked workers must not share the kept heap (each parent write would copy a page)."""
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, check=True).stdout
    rss = json.loads(out.strip().splitlines()[-1])
    assert rss["still"] > rss["kept"] - 64  # a loader whose workers already run: nothing released
    assert rss["released"] < rss["kept"] - 200  # about 256 MiB kept, then given back
