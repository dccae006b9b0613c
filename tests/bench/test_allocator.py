"""glibc's malloc is set to keep freed memory while a real backend times, put back
afterwards, and the record says what ran."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from genq.bench.allocator import (DEFAULT_MMAP_THRESHOLD, MMAP_THRESHOLD, TRIM_THRESHOLD, allocator_settings,
                                  allocator_state, pin_allocator, pinned_allocator, unpin_allocator)

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.fixture
def fresh_allocator(monkeypatch):
    """The allocator module as in a fresh process (nothing pinned, nothing set)."""
    import genq.bench.allocator as allocator

    unpin_allocator()
    monkeypatch.setattr(allocator, "_pinned", None)
    monkeypatch.setattr(allocator, "_set", {})
    yield allocator
    unpin_allocator()


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere nothing is changed")
def test_pin_allocator_sets_glibc_and_is_idempotent(fresh_allocator):
    first = pin_allocator()
    assert first is not None and "M_MMAP_THRESHOLD=32 MiB" in first
    assert pin_allocator() == first
    assert allocator_settings() == {"M_MMAP_THRESHOLD": MMAP_THRESHOLD, "M_TRIM_THRESHOLD": TRIM_THRESHOLD,
                                    "pinned": True}
    # mallopt's value is a C int: a larger one would wrap (to 0 for 2**40: trim on every free)
    assert TRIM_THRESHOLD == ctypes.c_int(TRIM_THRESHOLD).value and MMAP_THRESHOLD == 32 << 20
    assert ctypes.CDLL(ctypes.util.find_library("c")).mallopt(-3, MMAP_THRESHOLD) == 1


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere nothing is changed")
def test_pinned_allocator_is_scoped_and_nests(fresh_allocator):
    before = allocator_settings()
    assert before["M_MMAP_THRESHOLD"] == DEFAULT_MMAP_THRESHOLD and allocator_state() == "default"
    with pinned_allocator() as outer:
        assert outer.startswith("glibc mallopt") and allocator_settings()["pinned"]
        with pinned_allocator() as inner:          # a pin in force is left to the outer block
            assert inner == outer
        assert allocator_settings()["pinned"]
    assert allocator_settings() == before
    # glibc's dynamic mmap threshold cannot be turned back on: the state says so
    assert allocator_state().startswith("default values") and "dynamic mmap threshold" in allocator_state()
    with pinned_allocator(enabled=False) as off:
        assert not off.startswith("glibc mallopt") and not allocator_settings()["pinned"]


def test_speed_section_names_the_allocator(smoke_cfg, fresh_allocator):
    from genq.bench.speed import measure_speed
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter

    # bench=simulated never pins; a real backend pins while it times (pin_allocator=true)
    for bench, pin, expect in (("simulated", "true", "default"), ("cpu_int8", "false", "default"),
                               ("cpu_int8", "true", "glibc mallopt" if GLIBC else "default")):
        cfg = smoke_cfg("model=dcgan_digits", "quant=w8a8", f"bench={bench}", "bench.repeats=1",
                        "bench.warmup=0", "bench.compile=false", "bench.baselines=[fp32_eager]",
                        "bench.agreement=false", "bench.kernel_profile=false", f"bench.pin_allocator={pin}")
        fp = load_generator(cfg.model)
        q = quantize_adapter(fp, cfg.quant, 0).model if bench != "simulated" else None
        assert measure_speed(fp, q, cfg.bench, fp.make_noise(8, 0))["allocator"].startswith(expect)
        assert not allocator_settings()["pinned"]           # nothing left pinned after the measurement


def test_simulated_timing_says_how_the_fake_quantization_ran(smoke_cfg, monkeypatch):
    """``simulation_kernels`` labels the overhead: genq's fused C kernels or eager PyTorch."""
    from genq.bench.speed import measure_speed
    from genq.models import load_generator
    from genq.quant import kernels
    from genq.quant.pipeline import quantize_adapter

    cfg = smoke_cfg("model=dcgan_digits", "quant=w8a8", "bench.repeats=1", "bench.warmup=0")
    fp = load_generator(cfg.model)
    q = quantize_adapter(fp, cfg.quant, 0).model
    s = measure_speed(fp, q, cfg.bench, fp.make_noise(8, 0))
    assert s["simulation_kernels"] == kernels.native_status()
    assert s["simulated_overhead_vs_fp"] > 0
