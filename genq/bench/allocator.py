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

The pin is scoped (:func:`pinned_allocator`): only a real backend's measurement pins, and
the thresholds go back to glibc's default values when it ends, so the next job of a sweep
run in the same process (Hydra's basic launcher) finds them as they were. One thing cannot
be put back: setting any threshold turns off glibc's dynamic mmap threshold for the rest of
the process (``mallopt`` has no switch to turn it on again); the record's
``speed.allocator`` of a later job says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
from collections.abc import Iterator

M_TRIM_THRESHOLD = -1      # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit
TRIM_THRESHOLD = (1 << 31) - 1  # mallopt takes a C int: 2 GiB, above any heap top we free here
# glibc's defaults (malloc/malloc.c: DEFAULT_MMAP_THRESHOLD_MIN, DEFAULT_TRIM_THRESHOLD)
DEFAULT_MMAP_THRESHOLD = 128 << 10
DEFAULT_TRIM_THRESHOLD = 128 << 10

_PINNED = "glibc mallopt: M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=2 GiB (freed memory stays in the process)"
_RESTORED = ("default values (M_MMAP_THRESHOLD=128 KiB, M_TRIM_THRESHOLD=128 KiB, restored after a pin "
             "earlier in this process; glibc's dynamic mmap threshold stays off once set)")

_pinned: str | None = None
# The thresholds genq has set with mallopt in this process (empty: never touched, glibc's own).
_set: dict[str, int] = {}


def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c"))


def _mallopt(libc: ctypes.CDLL, mmap: int, trim: int) -> bool:
    if not (libc.mallopt(M_MMAP_THRESHOLD, mmap) and libc.mallopt(M_TRIM_THRESHOLD, trim)):
        return False
    _set.update(M_MMAP_THRESHOLD=mmap, M_TRIM_THRESHOLD=trim)
    return True


def pin_allocator() -> str | None:
    """Set glibc's malloc to keep freed memory (process-wide, until :func:`unpin_allocator`);
    a description of what was set, or None where the C library is not glibc (nothing is
    changed there). Prefer :func:`pinned_allocator`, which restores it."""
    global _pinned
    if _pinned is not None:
        return _pinned
    libc = _libc()
    if libc is None or not _mallopt(libc, MMAP_THRESHOLD, TRIM_THRESHOLD):
        return None
    _pinned = _PINNED
    return _pinned


def unpin_allocator() -> None:
    """Put glibc's thresholds back to their default values and give the kept memory back to
    the OS (``malloc_trim``). glibc offers no way to re-enable its dynamic mmap threshold
    once a threshold was set; :func:`allocator_state` says so from then on."""
    global _pinned
    if _pinned is None:
        return
    libc = _libc()
    if libc is not None:
        _mallopt(libc, DEFAULT_MMAP_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
    _pinned = None


@contextlib.contextmanager
def pinned_allocator(enabled: bool = True) -> Iterator[str]:
    """glibc's malloc pinned inside the block (when ``enabled``), as it was afterwards; yields
    :func:`allocator_state` as the block's timings run with it. A pin already in force (an
    outer block) is left to whoever set it."""
    if not enabled or _pinned is not None:
        yield allocator_state()
        return
    pin_allocator()
    try:
        yield allocator_state()
    finally:
        unpin_allocator()


def allocator_state() -> str:
    """What timings taken now run with: the pinned setting, or glibc's default."""
    if _pinned:
        return _pinned
    return _RESTORED if _set else "default"


def allocator_settings() -> dict[str, int | bool]:
    """The malloc thresholds in force as far as genq set them (glibc's default values where
    genq set none): what a job finds when it starts."""
    return {"M_MMAP_THRESHOLD": _set.get("M_MMAP_THRESHOLD", DEFAULT_MMAP_THRESHOLD),
            "M_TRIM_THRESHOLD": _set.get("M_TRIM_THRESHOLD", DEFAULT_TRIM_THRESHOLD),
            "pinned": _pinned is not None}
