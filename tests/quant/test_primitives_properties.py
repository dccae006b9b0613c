"""Properties of the quantization primitives on random tensors (hypothesis): round-trip
error, idempotence, values on the integer grid, and error falling with more bits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from genq.quant import choose_qparams, fake_quantize, qrange
from genq.quant.primitives import EPS

SETTINGS = settings(max_examples=50, deadline=None)

finite = st.floats(-1e4, 1e4, width=32, allow_nan=False, allow_infinity=False,
                   allow_subnormal=False)


@st.composite
def cases(draw):
    """(x, bits, symmetric, granularity, axis, requires_grad): grad picks torch's fused
    kernel (False) or genq's own elementwise path (True)."""
    x = draw(arrays(np.float32, array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                    elements=finite))
    per_channel = draw(st.booleans())
    axis = draw(st.integers(0, x.ndim - 1)) if per_channel else None
    return (torch.from_numpy(x), draw(st.integers(2, 16)), draw(st.booleans()),
            "per_channel" if per_channel else "per_tensor", axis, draw(st.booleans()))


def quantize(x, bits, symmetric, granularity, axis, grad):
    scale, zp = choose_qparams(x, bits, symmetric, granularity, axis=axis)
    qmin, qmax = qrange(bits, symmetric)
    out = fake_quantize(x.clone().requires_grad_(grad), scale, zp, qmin, qmax).detach()
    return out, scale, zp, qmin, qmax


@SETTINGS
@given(cases())
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(case):
    """Min-max qparams reach every value to within half a step: torch's symmetric scale
    max / (qmax + 1/2) leaves the top half a step out, and the rounded zero point shifts
    the asymmetric range by up to half a step."""
    x = case[0]
    out, scale, zp, qmin, qmax = quantize(*case)
    lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
    tol = 4 * EPS * (x.abs() + out.abs() + scale)  # float32 rounding in x / s and (q - z) * s
    bound = (scale / 2 + tol).expand_as(x)
    assert ((x >= lo - bound) & (x <= hi + bound)).all()
    assert ((out - x).abs() <= bound).all()


@SETTINGS
@given(cases(), st.floats(-3.0, 3.0))
def test_round_trip_error_for_values_the_qparams_were_not_fit_to(case, shift):
    """Qparams from x, applied to x scaled and shifted: the bound holds wherever the new
    values fall inside the representable range, and values outside are clamped to it."""
    x, bits, symmetric, granularity, axis, grad = case
    scale, zp = choose_qparams(x, bits, symmetric, granularity, axis=axis)
    qmin, qmax = qrange(bits, symmetric)
    y = x * 1.5 + shift
    out = fake_quantize(y.clone().requires_grad_(grad), scale, zp, qmin, qmax).detach()
    lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
    inside = (y >= lo) & (y <= hi)
    tol = 4 * EPS * (y.abs() + out.abs() + scale)
    bound = (scale / 2 + tol).expand_as(y)
    assert ((out - y).abs()[inside] <= bound[inside]).all()
    assert (out >= lo - tol).all() and (out <= hi + tol).all()


@SETTINGS
@given(cases())
def test_fake_quantize_is_idempotent(case):
    out, scale, zp, qmin, qmax = quantize(*case)
    again = fake_quantize(out.clone().requires_grad_(case[-1]), scale, zp, qmin, qmax).detach()
    assert torch.equal(again, out)


@SETTINGS
@given(cases())
def test_outputs_lie_on_the_integer_grid(case):
    out, scale, zp, qmin, qmax = quantize(*case)
    q = out.double() / scale.double() + zp.double()
    tol = 4 * EPS * ((out.double() / scale.double()).abs() + zp.abs() + 1)
    assert ((q - q.round()).abs() <= tol).all()
    assert (q.round() >= qmin).all() and (q.round() <= qmax).all()


def mse(x, bits, symmetric, granularity, axis):
    out = quantize(x, bits, symmetric, granularity, axis, False)[0]
    return (out.double() - x.double()).pow(2).mean().item()


@SETTINGS
@given(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(64, 2048), channels=st.integers(1, 4),
       loc=st.floats(-0.5, 0.5), spread=st.floats(1e-2, 1e2), heavy=st.booleans(),
       symmetric=st.booleans(), per_channel=st.booleans())
def test_mse_does_not_rise_with_more_bits(seed, n, channels, loc, spread, heavy, symmetric,
                                          per_channel):
    """On continuous random data (normal or Student-t, roughly centred so it spans the
    range), min-max MSE falls as bits rise.

    Not a property of every tensor: the grids of b and b + 1 bits are not nested, so a value
    exactly on the b-bit grid can be off the (b + 1)-bit one (see the test below)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(channels, n, generator=g)
    if heavy:   # Student-t with 3 degrees of freedom: normal / sqrt(chi2_3 / 3)
        x = x / (torch.randn(3, channels, n, generator=g).pow(2).mean(0)).sqrt()
    x = (x + loc) * spread
    granularity, axis = ("per_channel", 0) if per_channel else ("per_tensor", None)
    errors = [mse(x, bits, symmetric, granularity, axis) for bits in range(2, 17)]
    for bits, (fewer, more) in enumerate(zip(errors, errors[1:]), start=2):
        assert more <= fewer * (1 + 1e-6) + 1e-12, (bits, errors)


@pytest.mark.parametrize("symmetric", [True, False])
def test_min_max_mse_bound_falls_with_bits_but_mse_itself_need_not(symmetric):
    """What holds for every tensor: MSE <= (scale / 2)^2 and the scale shrinks with every
    extra bit. What does not: x = [1, 2/3] sits on the 2-bit asymmetric grid (step 1/3)
    exactly but not on the 3-bit one (step 1/7)."""
    x = torch.tensor([1.0, 2.0 / 3.0, -0.3, 0.05])
    scales = [choose_qparams(x, b, symmetric)[0].item() for b in range(2, 17)]
    assert all(a > b for a, b in zip(scales, scales[1:]))
    for bits, s in zip(range(2, 17), scales):
        assert mse(x, bits, symmetric, "per_tensor", None) <= (s / 2) ** 2 * (1 + 1e-5)
    x = torch.tensor([1.0, 2.0 / 3.0])
    assert mse(x, 2, False, "per_tensor", None) == 0.0 < mse(x, 3, False, "per_tensor", None)
