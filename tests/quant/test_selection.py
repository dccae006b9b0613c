"""quantize_'s design space: selection rules, first/last policy, mixed precision, granularity,
dynamic activations and the attention matmuls."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genq.config import LayerOverride
from genq.errors import GenqError
from genq.models.dcgan import DCGANGenerator
from genq.quant import QuantRecipe, quantize_
from genq.quant.attention import QuantAttentionWrapper
from genq.quant.modules import QuantConvTranspose2d
from test_quantize_api import tiny_unet


def _gan():
    torch.manual_seed(0)
    return DCGANGenerator(latent_dim=16, base_channels=16).eval()


def _status(report):
    return {r.name: (r.status, r.weight, r.activation, r.reason) for r in report.layers}


def test_include_exclude_patterns():
    g = _gan()
    report = quantize_(g, QuantRecipe(a_bits=None, exclude=["net.6"]))
    s = _status(report)
    assert s["net.0"][0] == "quantized" and s["net.6"][0] == "skipped"
    assert "quant.exclude 'net.6'" in s["net.6"][3]
    g = _gan()
    s = _status(quantize_(g, QuantRecipe(a_bits=None, include=["net.3"])))
    assert [n for n, v in s.items() if v[0] == "quantized"] == ["net.3"]


@pytest.mark.parametrize("field", ["include", "exclude"])
def test_pattern_matching_nothing_fails_before_calibration(field):
    calls = []
    with pytest.raises(GenqError, match=r"'down_blocks\.\*' matches no module; names look like: net"):
        quantize_(_gan(), QuantRecipe(**{field: ["down_blocks.*"]}), calib=lambda m: calls.append(1))
    assert not calls


def test_first_last_policy():
    s = _status(quantize_(_gan(), QuantRecipe(w_bits=4, a_bits=None, first_last="fp")))
    assert s["net.0"][0] == s["net.6"][0] == "skipped" and s["net.3"][0] == "quantized"
    s = _status(quantize_(_gan(), QuantRecipe(w_bits=4, a_bits=None, first_last="int8")))
    assert s["net.0"][1].startswith("int8") and s["net.6"][1].startswith("int8")
    assert s["net.3"][1].startswith("int4")


def test_per_layer_overrides_mixed_precision():
    recipe = QuantRecipe(w_bits=4, a_bits=None, overrides=[LayerOverride("net.3", w_bits=6),
                                                            LayerOverride("net.6", keep_fp=True)])
    s = _status(quantize_(_gan(), recipe))
    assert s["net.0"][1].startswith("int4") and s["net.3"][1].startswith("int6")
    assert s["net.6"][0] == "skipped" and "overrides" in s["net.6"][3]
    with pytest.raises(GenqError, match="quant.overrides"):
        quantize_(_gan(), QuantRecipe(a_bits=None, overrides=[LayerOverride("conv_out", w_bits=8)]))


def test_per_group_weights_and_bad_group_size():
    g = _gan()
    quantize_(g, QuantRecipe(w_bits=4, a_bits=None, granularity="per_group", group_size=8))
    # ConvTranspose2d weights are (in, out, kH, kW): groups run along the input channels (axis 0)
    wq = g.net[3].weight_quantizer
    assert wq.granularity.axis == 0 and wq.granularity.group_size == 8
    w = g.net[3].weight
    assert wq.scale.numel() == w.numel() // 8
    with pytest.raises(GenqError, match="quant.group_size=5 does not divide the 16 input channels of net.0"):
        quantize_(_gan(), QuantRecipe(w_bits=4, a_bits=None, granularity="per_group", group_size=5))


def _gan_dcgan_init():
    """DCGAN's N(0, 0.02) initialisation: bell-shaped weights like trained ones (on uniform
    weights, symmetric min-max gains nothing from finer groups)."""
    g = _gan()
    for m in g.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
    return g


def test_per_group_is_closer_than_per_channel_at_low_bits():
    z = torch.randn(64, 16)
    with torch.no_grad():
        ref = _gan_dcgan_init()(z)
    errs = {}
    for gran, size in (("per_tensor", None), ("per_channel", None), ("per_group", 4)):
        g = _gan_dcgan_init()
        quantize_(g, QuantRecipe(w_bits=3, a_bits=None, granularity=gran, group_size=size))
        with torch.no_grad():
            errs[gran] = (g(z) - ref).pow(2).mean().item()
    assert errs["per_group"] < errs["per_channel"] < errs["per_tensor"]


def test_dynamic_activations_need_no_calibration_and_follow_each_batch():
    g = _gan()
    report = quantize_(g, QuantRecipe(a_dynamic=True))
    assert "dynamic" in _status(report)["net.0"][2]
    aq = g.net[3].input_quantizer
    x = torch.randn(2, 32, 4, 4)
    # a dynamic quantizer rescales to every batch: a 100x larger input is still resolved finely
    rel = [((aq(x * s) - x * s).abs().max() / (x * s).abs().max()).item() for s in (1.0, 100.0)]
    assert rel[0] == pytest.approx(rel[1], rel=1e-3) and rel[0] < 0.01


def test_dynamic_per_token_scales_each_token():
    lin = nn.Sequential(nn.Linear(8, 8))
    quantize_(lin, QuantRecipe(a_dynamic=True, a_granularity="per_token", w_bits=None, a_bits=4))
    x = torch.randn(3, 5, 8) * torch.logspace(-2, 2, 5).view(1, 5, 1)
    xq = lin[0].input_quantizer(x)
    rel = ((xq - x).abs().amax(-1) / x.abs().amax(-1))
    assert rel.max() < 0.15            # small tokens are not crushed by large ones
    with pytest.raises(GenqError, match="per_token needs quant.a_dynamic=true"):
        quantize_(nn.Sequential(nn.Linear(2, 2)), QuantRecipe(a_granularity="per_token"), calib=[])


def test_attention_matmuls_quantized_with_their_own_softmax_bits():
    unet = tiny_unet()
    x, t = torch.randn(4, 1, 16, 16), torch.full((4,), 10)
    with torch.no_grad():
        ref = unet(x, t).sample
    report = quantize_(unet, QuantRecipe(w_bits=None, a_bits=None, attn_bits=8, softmax_bits=12),
                       calib=[(x, t)])
    matmuls = [r for r in report.layers if r.type == "AttentionMatmul"]
    n_attention = sum(type(m).__name__ == "Attention" for m in unet.modules())
    assert len(matmuls) == n_attention >= 2
    assert "int8" in matmuls[0].activation and "int12" in matmuls[0].activation
    proc = unet.down_blocks[1].attentions[0].processor
    assert isinstance(proc, QuantAttentionWrapper)   # wraps the model's own processor
    assert type(proc.inner).__name__ == "AttnProcessor2_0"
    assert proc.probs_quantizer.mode == "quant" and proc.probs_quantizer.zero_point == 0
    with torch.no_grad():
        out = unet(x, t).sample
    assert 0 < (out - ref).abs().max() < 0.05
    with pytest.raises(GenqError, match="no diffusers attention"):
        quantize_(_gan(), QuantRecipe(attn_bits=8), calib=[torch.randn(2, 16)])


def test_quantized_module_types_and_weights_shared():
    g = _gan()
    w = g.net[0].weight
    quantize_(g, QuantRecipe(a_bits=None))
    assert isinstance(g.net[0], QuantConvTranspose2d) and g.net[0].weight_fp is w
    assert g.net[0].weight is not w                  # reading .weight gives the quantized view


def test_attention_quantization_keeps_the_processors_qk_norm():
    """The model's own processor runs (QK-norm included); only its matmul inputs are
    quantized: at 16 bits the output equals FP's up to rounding, at 8 bits it is close."""
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    attn = Attention(query_dim=32, heads=2, dim_head=16, qk_norm="layer_norm").eval()
    with torch.no_grad():
        attn.norm_q.weight.mul_(3.0)                     # a norm that matters
    model = nn.Sequential(attn)
    x = torch.randn(2, 10, 32)
    with torch.no_grad():
        ref = model(x)
    quantize_(model, QuantRecipe(w_bits=None, a_bits=None, attn_bits=16, softmax_bits=16), calib=[x])
    assert isinstance(attn.processor, QuantAttentionWrapper)
    with torch.no_grad():
        out16 = model(x)
    assert (out16 - ref).abs().max() < 1e-3
