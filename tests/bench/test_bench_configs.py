"""bench= configs: every YAML composes; bad values and missing devices fail before any
model loads; the bf16 backend and the int8 reference path run end to end on a smoke model."""

from __future__ import annotations

import pytest
import torch

from conftest import compose
from genq.config import validate
from genq.errors import GenqError

BENCHES = ["simulated", "cpu_int8", "cpu_bf16", "cuda_fp16", "cuda_bf16", "cuda_int8", "cuda_fp8"]


@pytest.mark.parametrize("bench", BENCHES)
def test_bench_yaml_composes(bench):
    cfg = compose(f"bench={bench}", "logger=none")
    assert cfg.bench.name == bench
    assert cfg.bench.backend == ("fake-quant" if bench == "simulated" else bench)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the refusal cannot show")
@pytest.mark.parametrize("bench", ["cuda_fp16", "cuda_bf16", "cuda_int8", "cuda_fp8"])
def test_cuda_backend_without_gpu_fails_clearly_at_validation(bench):
    with pytest.raises(GenqError, match=f"bench.backend='{bench}' needs a CUDA GPU"):
        validate(compose(f"bench={bench}", "logger=none"))


NO_CUDA = "no CUDA device on this machine: the cuda_* backends are checked for their refusal instead"


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("bench", ["cuda_fp16", "cuda_bf16", "cuda_int8", "cuda_fp8"])
def test_cuda_backend_runs_tiny_model(bench, smoke_cfg):
    from genq.bench.speed import measure_speed
    from genq.models import load_generator

    if bench == "cuda_fp8" and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip(f"cuda_fp8 needs compute capability >= 8.9; this GPU has {torch.cuda.get_device_capability()}")
    cfg = smoke_cfg("model=dcgan_digits", f"bench={bench}", "bench.repeats=1", "bench.warmup=1")
    fp = load_generator(cfg.model)
    s = measure_speed(fp, None, cfg.bench, fp.make_noise(8, 0))
    assert s["backend"] == bench and s["latency_ms_per_image"] > 0 and s["coverage_table"]
    assert s["agreement"]["lpips_vs_fp"][bench] < 0.05      # low precision, same images


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_diffusion_sampler_runs_on_gpu_with_cuda_baselines(smoke_cfg):
    """The DDIM loop runs on the GPU, and the other CUDA backends are timed round-robin."""
    from genq.bench.speed import measure_speed
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter

    cfg = smoke_cfg("model=ddpm_digits", "quant=w8a8", "bench=cuda_int8", "bench.repeats=1", "bench.warmup=1",
                    "bench.baselines=[fp32_eager,cuda_bf16]")
    validate(cfg)
    fp = load_generator(cfg.model)
    q = quantize_adapter(fp, cfg.quant, 0).model
    s = measure_speed(fp, q, cfg.bench, fp.make_noise(4, 0))
    assert set(s["latency_ms_per_image_by_backend"]) == {"fp32_eager", "cuda_bf16", "cuda_int8"}
    assert "cuda_int8" in s["agreement"]["lpips_real_vs_simulated"]
    assert s["cuda_float_settings"]["cudnn_allow_tf32"] in (True, False)


def test_cuda_baselines_are_refused_with_a_cpu_backend():
    with pytest.raises(GenqError, match="bench.baselines entry='cuda_bf16'.*accepted: bf16"):
        validate(compose("bench=cpu_int8", "bench.baselines=[fp32_eager,cuda_bf16]", "logger=none"))


@pytest.mark.parametrize("override,words", [("bench.backend=tpu_int8", "bench.backend='tpu_int8'"),
                                            ("bench.baselines=[fp64]", "bench.baselines entry='fp64'"),
                                            ("bench.threads=0", "bench.threads=0")])
def test_bad_bench_values_fail_with_one_sentence(override, words):
    with pytest.raises(GenqError, match=words.replace("[", r"\[")):
        validate(compose("bench=cpu_int8", override, "logger=none"))


def _speed(smoke_cfg, *overrides):
    from genq.bench.speed import measure_speed
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter

    cfg = smoke_cfg("model=dcgan_digits", "bench.repeats=1", "bench.warmup=0", "bench.kernel_profile=false",
                    *overrides)
    validate(cfg)
    fp = load_generator(cfg.model)
    outcome = quantize_adapter(fp, cfg.quant, 0)
    return measure_speed(fp, outcome.model if outcome else None, cfg.bench, fp.make_noise(8, 0), cfg.quant)


def test_cpu_bf16_backend_runs_and_labels_itself(smoke_cfg):
    s = _speed(smoke_cfg, "bench=cpu_bf16", "bench.baselines=[fp32_eager]", "quant=fp32")
    assert s["backend"] == "cpu_bf16" and s["variant"] == "bf16" and s["device"]
    assert set(s["latency_ms_per_image_by_backend"]) == {"fp32_eager", "bf16"}
    assert s["speedup_vs_fp"] == pytest.approx(s["latency_ms_per_image_fp"] / s["latency_ms_per_image"])
    assert 0 <= s["agreement"]["lpips_vs_fp"]["bf16"] < 0.05


def test_cpu_int8_reference_path_agrees_with_simulated(smoke_cfg):
    """The default test of the int8 path: PT2E-converted graph, not compiled (the compiled
    path is the slow test below)."""
    s = _speed(smoke_cfg, "bench=cpu_int8", "bench.compile=false", "bench.baselines=[fp32_eager]")
    assert s["variant"] == "int8" and s["coverage"]["fallback"] == 0
    assert s["coverage"]["by_type"]["ConvTranspose2d"]["low"] == 3
    assert s["agreement"]["lpips_real_vs_simulated"]["int8"] <= 0.02
    assert s["model_bytes"] < s["model_bytes_fp"] / 2


def test_cpu_int8_with_fp32_recipe_is_refused(smoke_cfg):
    with pytest.raises(GenqError, match="quant=fp32 gives none"):
        _speed(smoke_cfg, "bench=cpu_int8", "bench.compile=false", "quant=fp32")


@pytest.mark.slow
def test_cpu_int8_compiled_runs_int8_kernels(smoke_cfg):
    s = _speed(smoke_cfg, "bench=cpu_int8", "bench.baselines=[fp32_eager]", "bench.kernel_profile=true",
               "quant.a_bits=7")    # exact on every x86 CPU, VNNI or not
    assert s["kernel_calls_per_forward"]["int8_calls"] == 3
    assert s["kernel_calls_per_forward"]["float_calls"] == 0
    assert s["agreement"]["lpips_real_vs_simulated"]["int8"] <= 0.02


def test_genq_run_with_cpu_int8_records_the_real_backend(tmp_path, smoke_cfg):
    """Through the real entry point: the record's speed section names the backend and
    device, and is JSON as written (int8 reference path, no compile, to stay fast)."""
    import json

    from genq.run import run_experiment

    record = run_experiment(smoke_cfg("model=dcgan_digits", "bench=cpu_int8", "bench.compile=false",
                                      "bench.baselines=[fp32_eager]", "bench.repeats=1",
                                      "bench.warmup=0"), tmp_path)
    s = json.loads((tmp_path / "result.json").read_text())["speed"]
    assert s == json.loads(json.dumps(record["speed"]))
    assert s["backend"] == "cpu_int8" and s["device"] and s["speedup_vs_fp"] > 0
    assert {r["type"] for r in s["coverage_table"] if not r["layer"].startswith("(")} == {"ConvTranspose2d"}
    assert s["agreement"]["lpips_real_vs_simulated"]["int8"] <= 0.02
