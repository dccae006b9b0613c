"""genq's primitives against torch's own fake-quant ops, and their gradients."""

from __future__ import annotations

import pytest
import torch

from genq.errors import GenqError
from genq.quant import PerChannel, choose_qparams, fake_quantize, qrange


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("grad", [False, True])
def test_per_tensor_matches_torch(bits, symmetric, grad):
    torch.manual_seed(bits)
    x = torch.randn(4, 8, 5, 5) * 3 + 0.5
    scale, zp = choose_qparams(x, bits, symmetric, "per_tensor")
    qmin, qmax = qrange(bits, symmetric)
    ref = torch.fake_quantize_per_tensor_affine(x, float(scale), int(zp), qmin, qmax)
    ours = fake_quantize(x.clone().requires_grad_(grad), scale, zp, qmin, qmax)
    assert torch.equal(ours.detach(), ref)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("grad", [False, True])
def test_per_channel_matches_torch(axis, symmetric, grad):
    torch.manual_seed(axis)
    x = torch.randn(6, 8, 3, 3) * torch.linspace(0.1, 4, 8).view(1, 8, 1, 1)
    scale, zp = choose_qparams(x, 8, symmetric, "per_channel", axis=axis)
    qmin, qmax = qrange(8, symmetric)
    ref = torch.fake_quantize_per_channel_affine(x, scale.flatten(), zp.flatten().int(), axis, qmin, qmax)
    ours = fake_quantize(x.clone().requires_grad_(grad), scale, zp, qmin, qmax)
    assert torch.equal(ours.detach(), ref)
    # 1-D qparams with an explicit axis, the way torch takes them
    assert torch.equal(fake_quantize(x, scale.flatten(), zp.flatten(), qmin, qmax, axis=axis), ref)


def test_qparams_match_torch_minmax_observer():
    from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

    x = torch.randn(16, 32) * 2 + 0.3
    obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    obs(x)
    ref_scale, ref_zp = obs.calculate_qparams()
    scale, zp = choose_qparams(x, 8, False)
    torch.testing.assert_close(scale.reshape(1), ref_scale.reshape(1))
    assert int(zp) == int(ref_zp)
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(x)
    ref_scale, _ = obs.calculate_qparams()
    scale, zp = choose_qparams(x, 8, True, PerChannel(0))
    torch.testing.assert_close(scale.flatten(), ref_scale)
    assert not zp.any()


def test_rounding_is_half_to_even():
    scale, zp = torch.tensor(1.0), torch.tensor(0.0)
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])
    assert fake_quantize(x, scale, zp, -8, 7).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]


def test_gradient_passes_straight_through_inside_the_range_only():
    x = torch.tensor([-3.0, -0.26, 0.0, 0.74, 3.0], requires_grad=True)
    scale, zp = torch.tensor(0.5), torch.tensor(0.0)
    fake_quantize(x, scale, zp, -2, 1).sum().backward()   # range [-1.0, 0.5]
    # 0.74 / 0.5 rounds to 1 = qmax: inside; -3 and 3 round outside
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    # torch's own op agrees on which elements pass
    y = x.detach().clone().requires_grad_()
    torch.fake_quantize_per_tensor_affine(y, 0.5, 0, -2, 1).sum().backward()
    assert torch.equal(x.grad, y.grad)


def test_per_group_scales_each_group_separately():
    x = torch.cat([torch.full((2, 4), 0.01), torch.full((2, 4), 100.0)], dim=1)
    scale, zp = choose_qparams(x, 4, False, "per_group", axis=1, group_size=4)
    assert scale.numel() == 4                               # 2 rows x 2 groups
    out = fake_quantize(x, scale, zp, 0, 15, axis=1, group_size=4)
    torch.testing.assert_close(out, x, rtol=1e-6, atol=0)
    with pytest.raises(GenqError, match="group_size=3"):
        choose_qparams(x, 4, True, "per_group", axis=1, group_size=3)


@pytest.mark.parametrize("bits", [1, 17])
def test_bits_out_of_range(bits):
    with pytest.raises(GenqError, match=f"bits={bits}"):
        qrange(bits, True)
