"""Each full-size speed architecture (here at reduced width and depth) runs one measurement
through each CPU backend, or is refused with the layers named (issue 20)."""

from __future__ import annotations

import pytest

from genq.errors import GenqError

MODELS = ["speed_sd15_unet", "speed_dit_xl2", "speed_pixart_sigma"]
FAST = ("bench.repeats=1", "bench.warmup=0", "bench.baselines=[fp32_eager]", "bench.batch_size=1",
        "bench.compile=false", "bench.kernel_profile=false", "quant.calib_samples=2")


def _measure(smoke_cfg, model, *overrides):
    from genq.bench.speed import measure_speed
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter

    cfg = smoke_cfg(f"model={model}", *FAST, *overrides)
    fp = load_generator(cfg.model)
    q = quantize_adapter(fp, cfg.quant, 0).model if cfg.quant.w_bits is not None else None
    return measure_speed(fp, q, cfg.bench, fp.make_noise(1, 0))


@pytest.mark.parametrize("model", [pytest.param("speed_sd15_unet", marks=pytest.mark.slow),   # export: ~3 min
                                   "speed_dit_xl2", "speed_pixart_sigma"])
def test_int8_reference_runs_every_layer_of_the_architecture(smoke_cfg, model):
    s = _measure(smoke_cfg, model, "bench=cpu_int8", "quant=w8a8")
    assert s["variant"] == "int8" and s["coverage"]["fallback"] == 0 and s["coverage"]["low_precision"] > 10
    assert s["agreement"]["rel_rms_real_vs_simulated"]["int8"] < 0.05


@pytest.mark.parametrize("model", MODELS)
def test_bf16_runs_and_w4a16_runs_or_is_refused_naming_layers(smoke_cfg, model):
    s = _measure(smoke_cfg, model, "bench=cpu_bf16", "quant=fp32")
    assert s["variant"] == "bf16" and s["agreement"]["rel_rms_vs_fp"]["bf16"] < 0.05
    w4 = _measure(smoke_cfg, model, "bench=cpu_w4a16", "quant=fp32", "bench.w4_group_size=32")
    by_type = w4["coverage"]["by_type"]
    assert by_type["Linear"]["low"] > 0 and by_type["Conv2d"]["low"] == 0   # convs: no int4 kernel


def test_w4_with_no_eligible_linear_is_refused_naming_layers(smoke_cfg):
    """The DCGAN is all (transposed) convolutions: nothing for an int4 Linear kernel."""
    with pytest.raises(GenqError, match=r"no Linear layer with an input width divisible by 32.*ConvTranspose2d"):
        _measure(smoke_cfg, "dcgan_digits", "bench=cpu_w4a16", "quant=fp32", "bench.w4_group_size=32")


@pytest.mark.parametrize("compile", ["false", pytest.param("true", marks=pytest.mark.slow)])
def test_int8_with_bf16_around_it_runs_every_layer_in_int8(smoke_cfg, compile):
    """int8_bf16: the int8 graph under bf16 autocast (the X86 Inductor quantizer's
    int8-mixed-bf16 mode); the int8 layers are the same, the float ops between them bf16."""
    s = _measure(smoke_cfg, "speed_dit_xl2", "bench=cpu_int8", "quant=w8a8", "bench.mixed_bf16=true",
                 f"bench.compile={compile}")
    print(s["agreement"], s.get("notes"))
    assert s["variant"] == "int8_bf16" and s["coverage"]["fallback"] == 0 and s["coverage"]["low_precision"] > 10
    assert s["agreement"]["rel_rms_real_vs_simulated"]["int8_bf16"] < 0.05
