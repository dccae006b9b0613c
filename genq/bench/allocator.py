"""Keep freed memory inside the process while timing on the CPU.

glibc's malloc serves large blocks with ``mmap`` and gives freed memory back to the OS, so a
model that allocates and frees its activations on every call page-faults them back in, again
and again, by an amount that varies between processes: on this project's machine (AMD EPYC,
2 threads) the digits DDPM's FP32 eager sampling took 17.3-18.7 ms/image in four processes
with the default and 14.0-15.0 pinned in three of four (``scripts/allocator_effect.sh``), while int8 barely
moved. ``mallopt`` with a fixed 32 MiB mmap threshold and a
2 GiB trim threshold (``mallopt`` takes a C int) removes that artefact for every variant alike (the
same reason PyTorch's CPU tuning guides preload jemalloc or tcmalloc). Our own code, since no
library sets glibc's malloc parameters from Python.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1      # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit
TRIM_THRESHOLD = (1 << 31) - 1  # mallopt takes a C int: 2 GiB, above any heap top we free here

_pinned: str | None = None


def pin_allocator() -> str | None:
    """Set glibc's malloc to keep freed memory (process-wide, once); a description of what
    was set, or None where the C library is not glibc (nothing is changed there)."""
    global _pinned
    if _pinned is not None:
        return _pinned
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return None
    _pinned = "glibc mallopt: M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=2 GiB (freed memory stays in the process)"
    return _pinned


def allocator_state() -> str:
    """What the timings of this process ran with: the pinned setting, or glibc's default."""
    return _pinned or "default"
