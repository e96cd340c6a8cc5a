"""Keep freed host memory for reuse (glibc only): a CPU training step allocates and frees the same
large activation buffers every step, and glibc by default serves big ones with fresh `mmap`s and
gives them back with `munmap`, so every step page-faults them in again. Measured on the 2-core
development machine (EfficientNet-Lite0, 224 px, batch 32): 13.8M -> 2.6M minor page faults a
run and 1.28x training images/s (bench/README.md). Costs some resident memory, never returned to
the OS while the run lasts. `train.keep_freed_memory = false` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and never trim it; True where it took effect."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    ok = libc.mallopt(M_MMAP_MAX, 0) == 1
    ok = libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1 and ok  # the largest int mallopt takes
    ok = libc.mallopt(M_TOP_PAD, 256 * 2**20) == 1 and ok  # grow the heap in 256 MiB steps
    return ok
