"""The conv zero-point rewrites (explicit padding; zero point folded into the bias) are exact
in float and keep the int8 reference path on the simulated model's integers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genq.bench.backends.conv_zero_point import PaddedConv2d, rewrite
from bench_tiny import dcgan_args, output, quantized, tiny_dcgan, tiny_unet, unet_args

MEAN_TOL, MAX_TOL = 2e-3, 0.1        # as tests/bench/test_lowering.py: same integers, float rounding


@pytest.mark.parametrize("k,s,p,groups,bias", [(3, 1, 1, 1, True), (3, 2, 1, 1, True), (1, 1, 0, 1, True),
                                               ((3, 5), 1, (1, 2), 2, False), (4, 2, 3, 1, True)])
@pytest.mark.parametrize("shift", [0.0, 0.37])
def test_padded_conv_is_the_conv(k, s, p, groups, bias, shift):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, k, s, p, groups=groups, bias=bias)
    x = torch.randn(2, 4, 9, 7)
    got = PaddedConv2d(conv, shift)(x)
    torch.testing.assert_close(got, conv(x), atol=1e-5, rtol=1e-5)
    assert got.shape == conv(x).shape


def test_rewrite_modes():
    conv = nn.Conv2d(3, 3, 3, padding=1)
    assert rewrite(conv, "implicit", 0.1, 5) is None
    assert rewrite(conv, "pad", 0.1, 0) is None                     # zero point 0: nothing to gain
    new, zp, note = rewrite(conv, "pad", 0.1, 5)
    assert zp == 5 and new.shift == 0.0 and new.conv.padding == (0, 0) and "F.pad" in note
    new, zp, note = rewrite(conv, "fold", 0.1, 5)
    assert zp == 0 and new.shift == pytest.approx(0.5) and "folded" in note
    assert rewrite(nn.Conv2d(3, 3, 1), "pad", 0.1, 5) is None        # nothing to pad
    assert rewrite(nn.Conv2d(3, 3, 1), "fold", 0.1, 5)[1] == 0        # 1x1: the fold still applies
    assert rewrite(nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), "fold", 0.1, 5) is None
    with pytest.raises(ValueError, match="accepted"):
        rewrite(conv, "shift", 0.1, 5)


@pytest.mark.parametrize("mode", ["pad", "fold"])
def test_int8_reference_matches_simulated_with_rewrite(mode):
    """The UNet's convs follow SiLU/GroupNorm (nonzero zero points); the DCGAN's follow ReLU."""
    from genq.bench.backends.cpu_int8 import build_cpu_int8

    g = tiny_dcgan()
    built = build_cpu_int8(quantized(g, [dcgan_args(16)]), dcgan_args(), compile=False, conv_zero_point=mode)
    convs = [p for p in built["lowered"].plans if p.target.endswith(".conv")]     # sub-pixel convs after ReLU
    assert convs and all(p.a_zero_point == 0 and not any("F.pad" in r or "zero point" in r for r in p.rewrites)
                         for p in convs)
    net, args = tiny_unet(), unet_args()
    q = quantized(net, [unet_args(8, t) for t in (900, 100)])
    built = build_cpu_int8(q, args, compile=False, conv_zero_point=mode)
    plans = [p for p in built["lowered"].plans if p.quantized]
    rewritten = [p for p in plans if any(("F.pad" if mode == "pad" else "zero point") in r for r in p.rewrites)]
    assert rewritten, [p.rewrites for p in plans]
    if mode == "fold":
        assert all(p.a_zero_point == 0 for p in rewritten)
    diff = (built["fn"](*args) - output(q, args)).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL, (diff.mean(), diff.max())
