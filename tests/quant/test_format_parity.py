"""fake_quantize_format equals the reference casts: torch's float8 dtypes, torchao's MX
(``MXTensor.to_mx`` with its default FLOOR scales, dequantized) and NVFP4 (``NVFP4Tensor``
with and without its per-tensor scale), on random tensors and edge cases; infinities are
refused; the straight-through gradient is 1 inside each format's range.

torchao 0.18's emulated MX/NVFP4 casts run on CPU for every element type genq names except
MX INT8 (torchao has no MX int8 element yet): mxint8 is checked against a hand computation.
"""

import warnings

import pytest
import torch

from genq.errors import GenqError
from genq.quant.formats import E2M1, E4M3, NAMED_FORMATS, BlockFormat, fake_quantize_format, parse_format

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torchao.prototype.mx_formats.mx_tensor import MXTensor
    from torchao.prototype.mx_formats.nvfp4_tensor import NVFP4Tensor, per_tensor_amax_to_scale

MX_ELEMENTS = {"mxfp8_e4m3": torch.float8_e4m3fn, "mxfp8_e5m2": torch.float8_e5m2,
               "mxfp6_e3m2": "fp6_e3m2", "mxfp6_e2m3": "fp6_e2m3", "mxfp4": torch.float4_e2m1fn_x2}
ALL_FORMATS = ["int8", "int4", "uint8", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1",
               *MX_ELEMENTS, "mxfp8", "mxfp6", "mxint8", "nvfp4"]
NVFP4_ONE_LEVEL = BlockFormat(E2M1, 16, E4M3, tensor_scale=False, label="nvfp4_no_tensor_scale")


def _random(rows: int = 64, cols: int = 256, seed: int = 0) -> torch.Tensor:
    """Gaussian rows spread over 2^-20 .. 2^20, so blocks of every magnitude occur."""
    g = torch.Generator().manual_seed(seed)
    spread = torch.exp2(torch.randint(-20, 21, (rows, 1), generator=g).float())
    return torch.randn(rows, cols, generator=g) * spread


def _edge_cases(block: int) -> torch.Tensor:
    """One edge case per row, each row ``4 * block`` long."""
    n = 4 * block
    rows = [torch.zeros(n),                                           # zeros
            torch.full((n,), 2.0 ** 3),                               # block maxima at powers of two
            torch.linspace(-1, 1, n) * 2.0 ** -5,
            torch.cat([torch.tensor([1.0]), torch.full((n - 1,), 2.0 ** -12)]),   # element subnormals
            torch.cat([torch.tensor([448.0, -448.0]), torch.linspace(-7, 7, n - 2)]),   # values at the max
            torch.cat([torch.tensor([6.0, 7.5, 28.0, 57344.0]), torch.randn(n - 4)]),
            torch.cat([torch.tensor([2.0 ** 7 * 1.99]), torch.randn(n - 1)]),   # saturates under FLOOR
            torch.tensor([0.0, -0.0] * (n // 2))]
    return torch.stack(rows)


def _mx_reference(x: torch.Tensor, name: str, block: int = 32) -> torch.Tensor:
    return MXTensor.to_mx(x, MX_ELEMENTS[name], block).dequantize(torch.float32)


@pytest.mark.parametrize("name", list(MX_ELEMENTS))
def test_mx_equals_torchao_default_floor_scales(name):
    for x in (_random(), _edge_cases(32)):
        ours = fake_quantize_format(x, name)
        assert torch.equal(ours, _mx_reference(x, name)), name


def test_mx_block_size_override_equals_torchao():
    x = _random(16, 128, seed=1)
    assert torch.equal(fake_quantize_format(x, "mxfp4", block_size=16), _mx_reference(x, "mxfp4", 16))
    with pytest.raises(GenqError, match="does not divide the 128"):
        fake_quantize_format(x, "mxfp4", block_size=48)


def test_mx_scales_are_floor_not_ceil():
    """A block whose maximum is 7: FLOOR gives scale 2^(2-2) = 1 and the 7 saturates at 6 (a
    ceil rounding of amax / 6 would give scale 2, 7 -> 8 and 1.5 -> 2)."""
    x = torch.zeros(1, 32)
    x[0, 0], x[0, 1] = 7.0, 1.5
    out = fake_quantize_format(x, "mxfp4")
    assert out[0, 0] == 6.0 and out[0, 1] == 1.5


def test_nvfp4_equals_torchao_two_level():
    for x in (_random(), _edge_cases(16)[1:]):                  # all-zero tensors: see below
        ref = NVFP4Tensor.to_nvfp4(x, per_tensor_scale=per_tensor_amax_to_scale(x.abs().max()))
        assert torch.equal(fake_quantize_format(x, "nvfp4"), ref.dequantize(torch.float32))


def test_nvfp4_without_tensor_scale_equals_torchao_one_level():
    for x in (_random(seed=2).clamp(-2000, 2000), _edge_cases(16)):
        ref = NVFP4Tensor.to_nvfp4(x).dequantize(torch.float32)
        assert torch.equal(fake_quantize_format(x, NVFP4_ONE_LEVEL), ref)


def test_nvfp4_all_zero_tensor_gives_zeros():
    """torchao divides by a zero tensor scale here (NaN); genq takes tensor scale 1."""
    assert torch.equal(fake_quantize_format(torch.zeros(2, 32), "nvfp4"), torch.zeros(2, 32))


@pytest.mark.parametrize("name,dtype", [("fp8_e4m3", torch.float8_e4m3fn), ("fp8_e5m2", torch.float8_e5m2)])
def test_fp8_per_tensor_equals_torch_cast(name, dtype):
    fmt = NAMED_FORMATS[name]
    for x in (_random(8, 512, seed=3), _edge_cases(32)[1:]):
        scale = x.abs().max() / fmt.max_value
        ref = (x / scale).clamp(-fmt.max_value, fmt.max_value).to(dtype).float() * scale
        assert torch.equal(fake_quantize_format(x, name), ref)


@pytest.mark.parametrize("name", ["fp6_e3m2", "fp6_e2m3", "fp4_e2m1"])
def test_sub_8_bit_element_rounding_equals_torchao_casts(name):
    """Every float32 pattern between 2^-12 and the top, ties and subnormals included, rounds as
    torchao's unpacked FP6/FP4 casts do."""
    from torchao.prototype.mx_formats import kernels

    to_bits, from_bits = {"fp6_e3m2": (kernels.f32_to_f6_e3m2_unpacked, kernels.f6_e3m2_unpacked_to_f32),
                          "fp6_e2m3": (kernels.f32_to_f6_e2m3_unpacked, kernels.f6_e2m3_unpacked_to_f32),
                          "fp4_e2m1": (kernels.f32_to_f4_unpacked, kernels.f4_unpacked_to_f32)}[name]
    fmt = NAMED_FORMATS[name]
    grid = torch.arange(0, 2 ** 11, dtype=torch.float32) / 2 ** 11     # 11 fraction bits per binade
    x = torch.cat([(1 + grid) * 2.0 ** e for e in range(-12, 6)])
    x = torch.cat([x, -x, torch.zeros(1)]).clamp(-fmt.max_value, fmt.max_value)
    assert torch.equal(fmt.round(x), from_bits(to_bits(x)))


def test_element_subnormals_are_kept():
    """fp8_e4m3's smallest subnormal is 2^-9 of a unit scale; the tensor max 448 fixes scale 1."""
    x = torch.tensor([448.0, 2.0 ** -9, 3 * 2.0 ** -9, 2.0 ** -11])
    assert fake_quantize_format(x, "fp8_e4m3").tolist() == [448.0, 2.0 ** -9, 3 * 2.0 ** -9, 0.0]


def test_mx_tiny_blocks_hand_computed():
    """Where torchao and genq differ: a block whose amax is below 2^-118 (E4M3) gets E8M0's
    smallest scale, 2^-127; torchao quantizes with 2^-126 there but dequantizes with 2^-127
    (halving the block), genq uses 2^-127 both ways."""
    x = torch.zeros(1, 32)
    x[0, 0] = 2.0 ** -125
    out = fake_quantize_format(x, "mxfp8_e4m3")
    assert out[0, 0] == 2.0 ** -125                 # 2^-125 / 2^-127 = 4, on the E4M3 grid
    assert _mx_reference(x, "mxfp8_e4m3")[0, 0] == 2.0 ** -126


def test_mxint8_hand_computed():
    """torchao has no MX INT8 element; by OCP MX v1.0 the scale is 2^(floor(log2 amax) - 6) and
    the elements are int8 (-128..127) at that scale."""
    x = _random(8, 64, seed=4)
    blocks = x.view(8, 2, 32)
    amax = blocks.abs().amax(-1, keepdim=True)
    scale = torch.exp2(torch.floor(torch.log2(amax)) - 6)
    hand = (torch.round(blocks / scale).clamp(-128, 127) * scale).view(8, 64)
    assert torch.equal(fake_quantize_format(x, "mxint8"), hand)


def test_int_formats_use_one_symmetric_min_max_scale():
    x = _random(4, 64, seed=5)
    scale = x.abs().max() / 127.5                # genq's symmetric range: (qmax - qmin) / 2
    hand = torch.round(x * (1.0 / scale)).clamp(-128, 127) * scale
    assert torch.allclose(fake_quantize_format(x, "int8"), hand, rtol=0, atol=1e-6 * float(scale))


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_zeros_pass_and_infinities_are_refused(name):
    assert torch.equal(fake_quantize_format(torch.zeros(2, 64), name), torch.zeros(2, 64))
    for bad in (float("inf"), float("-inf"), float("nan")):
        x = torch.randn(2, 64)
        x[1, 3] = bad
        with pytest.raises(GenqError, match="infinite or NaN"):
            fake_quantize_format(x, name)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_straight_through_gradient_is_one_inside_the_range(name):
    x = (torch.randn(4, 64) * 3).requires_grad_()
    out = fake_quantize_format(x, name)
    out.sum().backward()
    assert out.shape == x.shape
    # amax scales put every value inside the range, except block maxima that FLOOR scaling
    # saturates (MX): those, and only those, get gradient 0
    fmt = NAMED_FORMATS.get(name)
    if isinstance(fmt, BlockFormat):
        y = fmt.blocked(x.detach(), -1) * fmt.scales_and_multipliers(x.detach(), -1)[1]
        inside = fmt._round_elements(y, True)[1].reshape(x.shape)
        assert inside.float().mean() > 0.9
        assert torch.equal(x.grad, inside.float())
    elif name.startswith(("int", "uint")):
        # min-max integer scales: a maximum may round one step past qmax (int4: 7.5 -> 8)
        fmt = parse_format(name)
        scale, zp = fmt.qparams(x.detach().min(), x.detach().max())
        r = torch.round(x.detach() * (1.0 / scale)) + zp
        inside = (r >= fmt.qmin) & (r <= fmt.qmax)
        # the integer path multiplies by the float32 reciprocal of the scale (as torch's kernel
        # does), so its gradient is (1/s) * s: 1 within a float32 ulp
        assert inside.float().mean() > 0.9 and torch.allclose(x.grad, inside.float(), rtol=0, atol=1e-6)
        assert torch.equal(x.grad == 0, ~inside)
    else:
        assert torch.equal(x.grad, torch.ones_like(x))


def test_gradient_is_zero_where_a_value_saturates():
    x = torch.zeros(1, 32)
    x[0, 0], x[0, 1] = 7.0, 1.0
    x.requires_grad_()
    fake_quantize_format(x, "mxfp4").sum().backward()
    assert x.grad[0, 0] == 0 and x.grad[0, 1] == 1


def test_bad_block_size_and_bad_format_are_named():
    with pytest.raises(GenqError, match="has no blocks"):
        fake_quantize_format(torch.randn(4, 32), "fp8_e4m3", block_size=16)
    with pytest.raises(GenqError, match="accepted: int2..int16"):
        fake_quantize_format(torch.randn(4, 32), "fp7")


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4", "mxfp8_e4m3"])
def test_recipe_weights_equal_fake_quantize_format(name):
    """A layer's frozen block scales (and NVFP4's multiplier, kept by the quantizer) give the
    weight fake_quantize_format gives: a Linear blocks its input channels, the last dim."""
    from genq.quant import QuantRecipe, quantize_

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32))
    net[0].weight.data.mul_(torch.exp2(torch.randint(-8, 8, (32, 1)).float()))
    w = net[0].weight.detach().clone()
    quantize_(net, QuantRecipe(w_bits=None, a_bits=None, w_format=name))
    assert torch.equal(net[0].weight.detach(), fake_quantize_format(w, name))


@pytest.mark.parametrize("w_format", ["nvfp4", "mxfp4", "fp8_e4m3", "fp4_e2m1"])
def test_gradient_reaches_a_quantized_layers_fp_weight(w_format):
    """QAT on any format: the loss's gradient passes the weight quantizer straight through."""
    from genq.quant import QuantRecipe, quantize_

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32))
    quantize_(net, QuantRecipe(w_bits=None, a_bits=None, w_format=w_format))
    x = torch.randn(8, 64)
    net(x).pow(2).sum().backward()
    w = net[0].weight_fp
    out = net[0].weight.detach()
    expected = 2 * (x @ out.t() + net[0].bias.detach()).t() @ x          # d/dW of sum((xW^T + b)^2)
    inside = expected.new_ones(expected.shape)
    if w_format in ("mxfp4", "nvfp4"):                                   # saturated block maxima: 0
        fmt = NAMED_FORMATS[w_format]
        y = fmt.blocked(w.detach(), 1) * fmt.scales_and_multipliers(w.detach(), 1)[1]
        inside = fmt._round_elements(y, True)[1].reshape(w.shape).float()
    assert torch.allclose(w.grad, expected * inside, atol=1e-4)
