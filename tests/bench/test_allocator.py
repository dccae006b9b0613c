"""glibc's malloc is set to keep freed memory while timing, and the record says so."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from genq.bench.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD, pin_allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere nothing is changed")
def test_pin_allocator_sets_glibc_and_is_idempotent():
    first = pin_allocator()
    assert first is not None and "M_MMAP_THRESHOLD=32 MiB" in first
    assert pin_allocator() == first
    # mallopt's value is a C int: a larger one would wrap (to 0 for 2**40: trim on every free)
    assert TRIM_THRESHOLD == ctypes.c_int(TRIM_THRESHOLD).value and MMAP_THRESHOLD == 32 << 20
    assert ctypes.CDLL(ctypes.util.find_library("c")).mallopt(-3, MMAP_THRESHOLD) == 1


def test_speed_section_names_the_allocator(smoke_cfg, monkeypatch):
    import genq.bench.allocator as allocator
    from genq.bench.speed import measure_speed
    from genq.models import load_generator

    monkeypatch.setattr(allocator, "_pinned", None)       # as in a fresh process
    for pin, expect in (("false", "default"), ("true", "glibc mallopt" if GLIBC else "default")):
        cfg = smoke_cfg("model=dcgan_digits", "bench.repeats=1", "bench.warmup=0", f"bench.pin_allocator={pin}")
        fp = load_generator(cfg.model)
        assert measure_speed(fp, None, cfg.bench, fp.make_noise(8, 0))["allocator"].startswith(expect)
