"""Exact rewrites (ConvTranspose2d as Conv2d + pixel shuffle, or as Linear on 1x1 inputs)
and the int8 reference path (PT2E-converted, not compiled) against the simulated model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genq.bench.backends.subpixel import ProjectionConvTranspose2d, SubPixelConvTranspose2d
from genq.errors import GenqError
from bench_tiny import dcgan_args, output, quantized, tiny_dcgan, tiny_unet, unet_args


@pytest.mark.parametrize("cin,cout,k,s,p,op,h", [
    (8, 16, 4, 2, 1, 0, 4), (8, 3, 3, 2, 1, 1, 5), (4, 5, 5, 3, 2, 0, 6),
    (4, 4, (3, 4), (2, 3), (1, 0), 0, 5), (3, 2, 1, 1, 0, 0, 4), (6, 4, 4, 1, 0, 0, 1)])
def test_subpixel_rewrite_is_exact(cin, cout, k, s, p, op, h):
    torch.manual_seed(0)
    m = nn.ConvTranspose2d(cin, cout, k, s, p, output_padding=op)
    x = torch.randn(2, cin, h, h)
    torch.testing.assert_close(SubPixelConvTranspose2d(m)(x), m(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("k,p", [(4, 0), (4, 1), (3, 1)])
def test_projection_rewrite_is_exact(k, p):
    torch.manual_seed(0)
    m = nn.ConvTranspose2d(8, 5, k, 1, p)
    x = torch.randn(3, 8, 1, 1)
    torch.testing.assert_close(ProjectionConvTranspose2d(m)(x), m(x), atol=1e-5, rtol=1e-5)


# Tolerance of the int8 reference path vs the simulated model: both compute on the same
# integers; they differ only by float rounding (BatchNorm folding, accumulation order), which
# can move a value across a rounding boundary of the next layer's activation grid now and
# then: a few such steps per tensor at most.
MEAN_TOL, MAX_TOL = 2e-3, 0.1


def _reference(q: nn.Module, args: tuple) -> torch.Tensor:
    from genq.bench.backends.cpu_int8 import build_cpu_int8

    built = build_cpu_int8(q, args, compile=False)
    return built, built["fn"](*args)


def test_int8_reference_matches_simulated_dcgan():
    g = tiny_dcgan()
    args = dcgan_args()
    q = quantized(g, [dcgan_args(16)])
    built, real = _reference(q, args)
    sim = output(q, args)
    diff = (real - sim).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL, (diff.mean(), diff.max())
    rewrites = {p.name: " ".join(p.rewrites) for p in built["lowered"].plans}
    assert "Linear" in rewrites["net.0"] and "folded" in rewrites["net.0"]
    assert "pixel_shuffle" in rewrites["net.3"]
    assert all(p.quantized for p in built["lowered"].plans)
    # and it is quantized for real: far from FP
    assert (real - output(g, args)).abs().max() > 10 * diff.max()


def test_int8_reference_matches_simulated_unet():
    net = tiny_unet()
    args = unet_args()
    q = quantized(net, [unet_args(8, t) for t in (900, 100)])
    _, real = _reference(q, args)
    diff = (real - output(q, args)).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL, (diff.mean(), diff.max())


@pytest.mark.parametrize("recipe,words", [
    ({"a_bits": 12}, "int12 activations"),
    ({"a_dynamic": True}, "dynamic activation scales"),
    ({"a_bits": None}, "weight-only"),
    ({"w_bits": 4, "granularity": "per_group", "group_size": 4}, "per-group"),
])
def test_int8_refuses_unsupported_recipes_naming_layers(recipe, words):
    g = tiny_dcgan()
    calib = None if recipe.get("a_dynamic") or recipe.get("a_bits", 8) is None else [dcgan_args(16)]
    q = quantized(g, calib, **recipe)
    with pytest.raises(GenqError) as err:
        _reference(q, dcgan_args())
    msg = str(err.value)
    assert "unsupported layers" in msg and "net.0 (ConvTranspose2d)" in msg and words in msg, msg


def test_int8_runs_seven_bit_activations_on_the_uint8_grid():
    """7-bit activations (the remedy for CPUs whose int8 kernels saturate) use codes 0..127."""
    g = tiny_dcgan()
    q = quantized(g, [dcgan_args(16)], a_bits=7)
    built, real = _reference(q, dcgan_args())
    assert {p.a_qmax for p in built["lowered"].plans} == {127}
    diff = (real - output(q, dcgan_args())).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL


def test_int8_runs_w4_weights_on_int8_kernels():
    g = tiny_dcgan()
    q = quantized(g, [dcgan_args(16)], w_bits=4)
    built, real = _reference(q, dcgan_args())
    assert all(p.w_bits == 4 for p in built["lowered"].plans)
    diff = (real - output(q, dcgan_args())).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL
