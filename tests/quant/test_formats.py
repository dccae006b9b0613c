"""Number formats: integer formats reproduce the integer path bit for bit, minifloats round
as torch's float8 dtypes do, block formats share one scale per block."""

import pytest
import torch

from genq.errors import GenqError
from genq.quant import QuantRecipe, quantize_
from genq.quant.formats import (E2M1, E4M3, E5M2, NAMED_FORMATS, BlockFormat, FloatFormat, IntFormat,
                                parse_format)
from genq.quant.primitives import fake_quantize, qparams_from_range
from genq.quant.quantizer import FakeQuantizer
from torch import nn


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 32))


@pytest.mark.parametrize("fmt,dtype", [(E4M3, torch.float8_e4m3fn), (E5M2, torch.float8_e5m2)])
def test_fp8_rounding_matches_torch_dtypes(fmt, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50_000, generator=g) * torch.logspace(-9, 5, 50_000)   # subnormals to the top
    x = x.clamp(-fmt.max_value, fmt.max_value)
    assert torch.equal(fmt.round(x), x.to(dtype).float())


def test_largest_values_and_fp4_grid():
    assert (E4M3.max_value, E5M2.max_value, E2M1.max_value) == (448.0, 57344.0, 6.0)
    assert NAMED_FORMATS["fp6_e3m2"].max_value == 28.0 and NAMED_FORMATS["fp6_e2m3"].max_value == 7.5
    grid = torch.unique(E2M1.round(torch.linspace(-8, 8, 2001)))
    assert grid.tolist() == [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6]


def test_bits_per_element_counts_shared_scales():
    assert IntFormat(4).bits_per_element == 4
    assert NAMED_FORMATS["mxfp4"].bits_per_element == 4 + 8 / 32
    assert NAMED_FORMATS["nvfp4"].bits_per_element == 4 + 8 / 16


def test_int_format_is_the_integer_path():
    x = torch.randn(4, 8, 5)
    for sym in (True, False):
        fmt = IntFormat(4, sym)
        lo, hi = x.min(), x.max()
        s, z = fmt.qparams(lo, hi)
        s2, z2 = qparams_from_range(lo, hi, 4, sym)
        assert torch.equal(s, s2) and torch.equal(z, z2)
        assert torch.equal(fmt.fake_quantize(x, s, z), fake_quantize(x, s2, z2, fmt.qmin, fmt.qmax))
    legacy, new = FakeQuantizer(4, False), FakeQuantizer(IntFormat(4, False))
    legacy.calibrate_from(x), new.calibrate_from(x)
    assert torch.equal(legacy(x), new(x)) and legacy.describe() == new.describe()


def test_block_formats_scale_each_block():
    fmt = NAMED_FORMATS["mxfp4"]
    w = torch.randn(4, 64)
    w[:, :32] *= 100                                  # one loud block per row
    out = fmt.fake_quantize_blocks(w, axis=1)
    quiet_err = (out[:, 32:] - w[:, 32:]).abs().max()
    # the quiet block kept its own scale (the loud one's step is ~100x larger); the bound is
    # 1, not 0.5: OCP MX FLOOR scales (torchao's default, which genq now follows) saturate a
    # block maximum by up to a quarter of it, e.g. 3.9 -> 3.0 at scale 0.5
    assert quiet_err < 1.0
    scales = fmt.block_scales(w, 1)
    assert scales.shape == (4, 2, 1)
    assert torch.equal(torch.log2(scales), torch.log2(scales).round())   # E8M0: powers of two
    with pytest.raises(GenqError, match="block_size=32 does not divide the 48"):
        fmt.fake_quantize_blocks(torch.randn(2, 48), axis=1)


def test_gradients_pass_straight_through_float_formats():
    x = torch.randn(16, requires_grad=True)
    scale = torch.tensor(0.01)
    E4M3.fake_quantize(x, scale).sum().backward()
    assert torch.equal(x.grad, torch.ones(16))


def test_parse_format_names_what_is_accepted():
    assert parse_format("int4") == IntFormat(4, True)
    assert parse_format("uint8") == IntFormat(8, False)
    assert parse_format("fp6_e2m3") == NAMED_FORMATS["fp6_e2m3"]
    assert isinstance(parse_format("fp5_e2m2"), FloatFormat)
    with pytest.raises(GenqError, match="accepted: int2..int16"):
        parse_format("int4x")
    with pytest.raises(GenqError, match="out of range"):
        parse_format("int1")


@pytest.mark.parametrize("w_format,a_format", [("fp8_e4m3", "fp8_e4m3"), ("mxfp4", None),
                                                ("nvfp4", "mxfp8"), ("fp4_e2m1", None)])
def test_recipes_quantize_in_named_formats(w_format, a_format):
    g = _mlp()
    z = torch.randn(8, 32)
    with torch.no_grad():
        ref = g(z)
    report = quantize_(g, QuantRecipe(w_bits=None, a_bits=None, w_format=w_format, a_format=a_format,
                                      ),
                       calib=[z])
    quantized = [r for r in report.layers if r.status == "quantized"]
    assert quantized and all(w_format in r.weight for r in quantized)
    with torch.no_grad():
        out = g(z)
    err = (out - ref).pow(2).mean() / ref.pow(2).mean()
    assert torch.isfinite(err) and 0 < err < 0.5


def test_block_format_that_does_not_divide_a_layer_is_refused_before_quantizing():
    net = torch.nn.Sequential(torch.nn.Linear(48, 32), torch.nn.Linear(32, 32))
    w = net[0].weight.detach().clone()
    with pytest.raises(GenqError, match="mxfp4 needs blocks of 32 input channels but 0 has 48"):
        quantize_(net, QuantRecipe(w_bits=None, a_bits=None, w_format="mxfp4"))
    assert type(net[0]) is torch.nn.Linear and torch.equal(net[0].weight, w)


def test_block_format_object():
    custom = BlockFormat(IntFormat(4, True), 16, E4M3, label="int4_b16")
    assert custom.bits_per_element == 4.5
    y = custom.fake_quantize_blocks(torch.randn(3, 32), axis=1)
    assert y.shape == (3, 32) and torch.isfinite(y).all()


def test_per_block_weights_tile_output_and_input_channels():
    net = nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 64))
    report = quantize_(net, QuantRecipe(w_bits=4, a_bits=None, granularity="per_block", group_size=16))
    assert all("per-block(16x16)" in r.weight for r in report.layers if r.status == "quantized")
    wq = net[0].weight_quantizer
    assert wq.scale.shape == (2, 4, 1)                       # 32/16 x 64/16 tiles
    w, q = net[0].weight_fp.detach(), net[0].weight.detach()
    for i in range(2):
        for j in range(4):
            tile_w, tile_q = w[16 * i:16 * (i + 1), 16 * j:16 * (j + 1)], q[16 * i:16 * (i + 1), 16 * j:16 * (j + 1)]
            step = float(wq.scale[i, j, 0])
            assert (tile_q - tile_w).abs().max() <= step / 2 + 1e-6   # each tile on its own grid
    with pytest.raises(GenqError, match="does not tile"):
        quantize_(nn.Sequential(nn.Linear(64, 40), nn.Linear(40, 8)),
                  QuantRecipe(w_bits=4, a_bits=None, granularity="per_block", group_size=16))
