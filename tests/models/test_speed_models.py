"""Speed-only full-size architectures (issue 20): model=speed_sd15_unet builds from SD 1.5's
published UNet config (here at reduced width), and a run of it writes a record without
quality metrics and with its model_source."""

from __future__ import annotations

import json

import pytest
import torch

from genq.errors import GenqError
from genq.models import load_generator
from genq.models.speed import is_speed_model, speed_config

REDUCED = ("model.tiny_arch.block_out_channels=[32,64,64,64]", "model.tiny_arch.cross_attention_dim=32",
           "model.tiny_arch.sample_size=8")


def test_shipped_config_is_sd15():
    c = speed_config("sd15_unet.json")
    assert c["block_out_channels"] == [320, 640, 1280, 1280] and c["layers_per_block"] == 2
    assert (c["cross_attention_dim"], c["attention_head_dim"], c["sample_size"]) == (768, 8, 64)
    assert (c["in_channels"], c["out_channels"]) == (4, 4)
    assert c["down_block_types"] == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert c["up_block_types"] == ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3
    assert is_speed_model("speed_sd15_unet") and not is_speed_model("ddpm_digits")


def test_default_latent_is_32(smoke_cfg):
    from conftest import compose

    cfg = compose("model=speed_sd15_unet")
    assert cfg.model.arch.sample_size == 32 and cfg.model.weights is None


def test_reduced_width_builds_and_runs_a_forward(smoke_cfg):
    cfg = smoke_cfg("model=speed_sd15_unet", *REDUCED, "model.tiny_arch.sample_size=16")
    a = load_generator(cfg.model)
    b = load_generator(cfg.model)
    assert a.image_shape == (4, 16, 16) and a.source == "random init (sd15_unet.json)"
    assert a.network.config.cross_attention_dim == 32
    for pa, pb in zip(a.network.parameters(), b.network.parameters()):   # fixed-seed init
        assert torch.equal(pa, pb)
    cond = a.condition(2, 0)
    assert cond.shape == (2, 77, 32) and torch.equal(cond[1], a.condition(1, 1)[0])
    out = a.sample(a.make_noise(2, 0), 2)
    assert out.shape == (2, 4, 16, 16) and torch.isfinite(out).all()


def test_weights_do_not_apply(smoke_cfg):
    cfg = smoke_cfg("model=speed_sd15_unet", "model.weights=embedded")
    with pytest.raises(GenqError, match="model.weights"):
        load_generator(cfg.model)


def test_smoke_run_has_no_quality_metrics(tmp_path, smoke_cfg):
    from genq.run import run_experiment

    cfg = smoke_cfg("model=speed_sd15_unet", *REDUCED, "bench=simulated")
    run_experiment(cfg, tmp_path)
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["model_source"] == "random init (sd15_unet.json)"
    m = record["metrics"]
    assert not {"fid", "kid", "fid_fp", "qfid", "lpips_vs_fp", "psnr_vs_fp", "n_samples"} & m.keys()
    assert m["scoring"].startswith("skipped")
    assert record["quant"]["coverage"]["quantized"] > 0
    assert record["speed"]["latency_ms_per_image"] > 0 and record["speed"]["threads"] >= 1
    assert record["env"]["cpu"]["model"]


def test_shipped_transformer_configs_are_published_ones():
    dit = speed_config("dit_xl2.json")
    assert (dit["num_layers"], dit["num_attention_heads"], dit["attention_head_dim"]) == (28, 16, 72)
    assert (dit["patch_size"], dit["sample_size"], dit["norm_type"]) == (2, 32, "ada_norm_zero")
    pix = speed_config("pixart_sigma.json")
    assert (pix["num_layers"], pix["num_attention_heads"] * pix["attention_head_dim"]) == (28, 1152)
    assert (pix["caption_channels"], pix["norm_type"], pix["sample_size"]) == (4096, "ada_norm_single", 128)
    assert pix["use_additional_conditions"] is False


@pytest.mark.parametrize("name,cond_shape", [("speed_dit_xl2", (2,)), ("speed_pixart_sigma", (2, 300, 24))])
def test_reduced_transformers_build_and_sample(smoke_cfg, name, cond_shape):
    cfg = smoke_cfg(f"model={name}")
    a = load_generator(cfg.model)
    b = load_generator(cfg.model)
    assert a.image_shape == (4, 8, 8) and a.source.startswith("random init (")
    for pa, pb in zip(a.network.parameters(), b.network.parameters()):   # fixed-seed init
        assert torch.equal(pa, pb)
    cond = a.condition(2, 0)
    assert tuple(cond.shape) == cond_shape and torch.equal(cond[1], a.condition(1, 1)[0])
    out = a.sample(a.make_noise(2, 0), 2)                     # the noise half of 8 output channels
    assert out.shape == (2, 4, 8, 8) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["speed_dit_xl2", "speed_pixart_sigma"])
def test_transformer_smoke_run_quantizes_its_linears(tmp_path, smoke_cfg, name):
    from genq.run import run_experiment

    cfg = smoke_cfg(f"model={name}", "bench=simulated")
    run_experiment(cfg, tmp_path)
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["model_source"].startswith("random init (") and "fid" not in record["metrics"]
    by_type = record["quant"]["coverage"]["by_type"]         # attention/MLP/adaLN and the patch embedding
    assert by_type["Linear"]["quantized"] > 0 and by_type["Conv2d"]["quantized"] == 1
