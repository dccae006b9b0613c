"""quantize_: layer coverage, calibration, fidelity and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from tiny_models import tiny_unet as make_tiny_unet

from genq.errors import GenqError
from genq.models.dcgan import DCGANGenerator
from genq.quant import QuantRecipe, quantize_
from genq.quant.modules import QuantConv2d, QuantConvTranspose2d, QuantLinear


def tiny_unet():
    return make_tiny_unet(sample_size=16, block_out_channels=(16, 32), norm_num_groups=8)


def test_dcgan_coverage_report_and_fidelity():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=16, base_channels=16).eval()
    z = torch.randn(64, 16)
    with torch.no_grad():
        ref = g(z)
    report = quantize_(g, QuantRecipe(w_bits=8, a_bits=8), calib=[(z[:32],)])
    counts = report.counts()
    assert counts["by_type"]["ConvTranspose2d"] == {"quantized": 3, "skipped": 0}
    assert counts["by_type"]["BatchNorm2d"] == {"quantized": 0, "skipped": 2}
    assert all(isinstance(g.net[i], QuantConvTranspose2d) for i in (0, 3, 6))
    skipped = [r for r in report.layers if r.status == "skipped"]
    assert all("BatchNorm2d" in r.reason for r in skipped)
    with torch.no_grad():
        out = g(z)
    err8 = (out - ref).abs().mean().item()
    assert 0 < err8 < 0.02


def test_fewer_bits_give_larger_error():
    torch.manual_seed(0)
    z = torch.randn(64, 16)
    base = DCGANGenerator(latent_dim=16, base_channels=16).eval()
    with torch.no_grad():
        ref = base(z)
    errs = []
    for bits in (8, 6, 4):
        g = DCGANGenerator(latent_dim=16, base_channels=16).eval()
        g.load_state_dict(base.state_dict())
        quantize_(g, QuantRecipe(w_bits=bits, a_bits=bits), calib=[z])
        with torch.no_grad():
            errs.append((g(z) - ref).pow(2).mean().item())
    assert errs[0] < errs[1] < errs[2]


def test_unet_with_attention_coverage():
    unet = tiny_unet()
    x, t = torch.randn(4, 1, 16, 16), torch.full((4,), 10)
    report = quantize_(unet, QuantRecipe(), calib=[(x, t)])
    counts = report.counts()["by_type"]
    n_linear = sum(isinstance(m, nn.Linear) for m in tiny_unet().modules())
    n_conv = sum(isinstance(m, nn.Conv2d) for m in tiny_unet().modules())
    assert counts["Linear"]["quantized"] == n_linear > 0
    assert counts["Conv2d"]["quantized"] == n_conv > 0
    assert counts["GroupNorm"]["skipped"] > 0
    # attention projections are quantized Linear layers
    assert isinstance(unet.down_blocks[1].attentions[0].to_q, QuantLinear)
    assert isinstance(unet.conv_in, QuantConv2d)
    with torch.no_grad():
        assert unet(x, t).sample.shape == x.shape


def test_weights_only_needs_no_calibration():
    g = DCGANGenerator(latent_dim=16, base_channels=16).eval()
    report = quantize_(g, QuantRecipe(w_bits=4, a_bits=None))
    assert report.counts()["quantized"] == 3
    assert g.net[0].input_quantizer is None


def test_activation_quantization_without_calibration_fails_clearly():
    g = DCGANGenerator(latent_dim=16, base_channels=16)
    with pytest.raises(GenqError, match="calib"):
        quantize_(g, QuantRecipe(w_bits=8, a_bits=8))


def test_nan_during_calibration_fails_clearly():
    g = DCGANGenerator(latent_dim=16, base_channels=16).eval()
    z = torch.randn(8, 16)
    z[0, 0] = float("nan")
    with pytest.raises(GenqError, match="NaN"):
        quantize_(g, QuantRecipe(), calib=[z])


@pytest.mark.parametrize("field, value", [("w_bits", 0), ("a_bits", 17), ("granularity", "per_row"),
                                          ("observer", "nope")])
def test_bad_recipe_fails_before_calibration(field, value):
    g = DCGANGenerator(latent_dim=16, base_channels=16)
    calls = []
    recipe = QuantRecipe(**{field: value})
    with pytest.raises(GenqError, match=str(value)):
        quantize_(g, recipe, calib=lambda m: calls.append(1))
    assert not calls


def test_unknown_layer_type_named():
    with pytest.raises(GenqError, match="Embedding"):
        quantize_(nn.Sequential(nn.Linear(2, 2)), QuantRecipe(layers=["Embedding"], a_bits=None))


def test_gradients_flow_through_quantized_model():
    g = DCGANGenerator(latent_dim=16, base_channels=16).train()
    z = torch.randn(8, 16)
    quantize_(g, QuantRecipe(), calib=[z])
    g(z).sum().backward()
    assert g.net[0].weight_fp.grad is not None and g.net[0].weight_fp.grad.abs().sum() > 0
