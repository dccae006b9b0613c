"""A sweep's jobs share one process (Hydra's basic launcher): a ``bench=cpu_int8`` job
followed by a ``bench=simulated`` one finds Inductor's settings and glibc's malloc as they
were before the first, and the second job's record is not touched by the first."""

from __future__ import annotations

import pytest

from genq.bench.allocator import allocator_settings, unpin_allocator
from genq.bench.backends import inductor

KEYS = sorted({k for s in (inductor.CPU_INT8, inductor.CPU_FLOAT, inductor.TORCHAO_CUDA) for k in s})


def _inductor() -> dict:
    import torch._inductor.config as config

    return config.get_config_copy()


@pytest.fixture
def fresh_allocator(monkeypatch):
    import genq.bench.allocator as allocator

    unpin_allocator()
    monkeypatch.setattr(allocator, "_pinned", None)
    monkeypatch.setattr(allocator, "_set", {})
    yield
    unpin_allocator()


def _job(smoke_cfg, tmp_path, *overrides):
    from genq.run import run_experiment

    cfg = smoke_cfg("model=dcgan_digits", "metrics.n_samples=16", "bench.repeats=1", "bench.warmup=0",
                    "bench.baselines=[fp32_eager]", "bench.agreement=false", *overrides)
    return run_experiment(cfg, tmp_path)


def _int8_then_simulated(smoke_cfg, tmp_path, *int8_overrides):
    before_inductor, before_alloc = _inductor(), allocator_settings()
    int8 = _job(smoke_cfg, tmp_path / "int8", "bench=cpu_int8", *int8_overrides)
    assert int8["speed"]["backend"] == "cpu_int8" and int8["speed"]["allocator"].startswith("glibc mallopt")
    assert _inductor() == before_inductor                      # every setting, not only ours
    assert allocator_settings() == before_alloc and not allocator_settings()["pinned"]
    sim = _job(smoke_cfg, tmp_path / "sim", "bench=simulated")
    assert sim["speed"]["backend"] == "fake-quant"
    assert not sim["speed"]["allocator"].startswith("glibc mallopt")   # a simulated timing never pins
    assert _inductor() == before_inductor and allocator_settings() == before_alloc
    return int8


@pytest.mark.skipif(not __import__("platform").libc_ver()[0] == "glibc", reason="mallopt is glibc's")
def test_int8_reference_job_then_simulated_job_leave_no_state(smoke_cfg, tmp_path, fresh_allocator):
    """Fast: the int8 reference path (no compile) through run_experiment."""
    _int8_then_simulated(smoke_cfg, tmp_path, "bench.compile=false")


@pytest.mark.skipif(not __import__("platform").libc_ver()[0] == "glibc", reason="mallopt is glibc's")
def test_compiled_int8_job_then_simulated_job_leave_no_state(smoke_cfg, tmp_path, fresh_allocator):
    """The compiled path: Inductor compiles with freezing and the kernel profile on, and
    neither is left set."""
    # 7-bit activations: exact on every x86 CPU (8-bit ones are refused where int8 kernels saturate)
    int8 = _int8_then_simulated(smoke_cfg, tmp_path, "bench.compile=true", "bench.kernel_profile=true",
                                "quant.a_bits=7")
    assert int8["speed"]["kernel_calls_per_forward"]["int8_calls"] == 3


def test_compiled_backend_functions_scope_their_settings():
    """The backends' compiled functions set their Inductor settings only while called (a
    compile happens inside the first call): stand-in compiled function, no Inductor run."""
    seen = {}

    def fake_compiled(*args):
        seen.update({k: inductor.current(k) for k in KEYS})
        return args

    before = inductor.snapshot(KEYS)
    for settings in (inductor.CPU_INT8, inductor.CPU_FLOAT, inductor.TORCHAO_CUDA):
        inductor.scoped(fake_compiled, settings)(1)
        assert {k: seen[k] for k in settings} == settings
        assert inductor.snapshot(KEYS) == before
    with inductor.inductor_settings(inductor.CPU_INT8):        # a measurement's scope
        inductor.scoped(fake_compiled, inductor.CPU_FLOAT)(1)  # already in force: no patch
        assert seen["cpp.enable_kernel_profile"] is True
    assert inductor.snapshot(KEYS) == before


def test_torchao_quantize_leaves_inductor_alone():
    """torchao's quantize_ writes its recommended settings process-wide unless told not to;
    the CUDA backends' configs tell it (int8 quantized here on the CPU)."""
    import torch
    from torchao.quantization import quantize_

    from genq.bench.backends.cuda import torchao_config

    assert not torchao_config("cuda_fp8").set_inductor_config
    before = _inductor()
    net = torch.nn.Sequential(torch.nn.Linear(64, 64)).to(torch.bfloat16)
    quantize_(net, torchao_config("cuda_int8"))
    assert type(net[0].weight).__name__ not in ("Parameter", "Tensor")      # it did quantize
    assert _inductor() == before


def test_a_keyword_calling_sampler_runs_on_a_real_backend(smoke_cfg, tmp_path):
    """The diffusion sampler calls its denoiser by keyword; the backend's stand-in network binds
    the keywords to positions (the int8 graph takes positional inputs)."""
    from genq.run import run_experiment

    cfg = smoke_cfg("model=ddpm_digits", "metrics.n_samples=16", "bench=cpu_int8", "bench.compile=false",
                    "bench.repeats=1", "bench.warmup=0", "bench.baselines=[fp32_eager]")
    record = run_experiment(cfg, tmp_path)
    assert record["speed"]["backend"] == "cpu_int8" and record["speed"]["latency_ms_per_image"] > 0
