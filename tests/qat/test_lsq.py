"""LSQ / LSQ+ quantizer: the step-size and offset gradients against the papers' formulas on
hand-computed cases, and a prepared model that reproduces its PTQ initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genq.qat.lsq import LSQQuantizer, lsq_quantize, make_learnable
from genq.quant import fake_quantize, quantize_
from genq.quant.api import QuantRecipe
from genq.quant.quantizer import FakeQuantizer


def test_lsq_step_gradient_matches_the_papers_formula_by_hand():
    # 3-bit signed: Qn = 4, Qp = 3. v/s = 0.6, -1.24, 4.0, -6.0: two inside, one above, one below.
    # Esser et al. eq. 3: -v/s + round(v/s) inside, Qp above, -Qn below:
    #   (1 - 0.6) + (-1 + 1.24) + 3 - 4 = -0.36, times g = 1/sqrt(N * Qp) = 1/sqrt(4 * 3).
    x = torch.tensor([0.3, -0.62, 2.0, -3.0], requires_grad=True)
    s = torch.tensor(0.5, requires_grad=True)
    g = 1 / math.sqrt(4 * 3)
    out = lsq_quantize(x, s, -4, 3, g=g)
    out.sum().backward()
    assert out.tolist() == [0.5, -0.5, 1.5, -2.0]
    assert s.grad.item() == pytest.approx(-0.36 * g, abs=1e-6)
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]          # straight through inside only


def test_genq_fake_quantize_gives_the_same_unscaled_step_gradient():
    x = torch.tensor([0.3, -0.62, 2.0, -3.0])
    s = torch.tensor(0.5, requires_grad=True)
    fake_quantize(x, s, torch.tensor(0.0), -4, 3).sum().backward()
    assert s.grad.item() == pytest.approx(-0.36, abs=1e-6)


def test_lsq_plus_offset_and_step_gradients_by_hand():
    # 3-bit unsigned [0, 7], beta = -1, s = 0.5: (x - beta)/s = 2.6, 0.76, 8.0, -2.0.
    # d/ds: (3 - 2.6) + (1 - 0.76) + 7 + 0 = 7.64; d/dbeta: 0 inside, 1 outside -> 2.
    x = torch.tensor([0.3, -0.62, 3.0, -2.0])
    s = torch.tensor(0.5, requires_grad=True)
    beta = torch.tensor(-1.0, requires_grad=True)
    out = lsq_quantize(x, s, 0, 7, offset=beta)
    out.sum().backward()
    assert out.tolist() == [0.5, -0.5, 2.5, -1.0]
    assert s.grad.item() == pytest.approx(7.64, abs=1e-5)
    assert beta.grad.item() == pytest.approx(2.0)


def test_fixed_zero_point_gradient_uses_the_shifted_range():
    # unsigned [0, 7], z = 2: effective levels -2..5, so clipping gives qmin - z = -2 or qmax - z = 5.
    x = torch.tensor([10.0, -10.0, 0.3])
    s = torch.tensor(0.5, requires_grad=True)
    lsq_quantize(x, s, 0, 7, zero_point=torch.tensor(2.0)).sum().backward()
    assert s.grad.item() == pytest.approx(5 - 2 + (1 - 0.6), abs=1e-6)


def test_weight_gradient_scale_counts_elements_per_channel():
    fq = FakeQuantizer(4, True)
    fq.calibrate_from(torch.randn(8, 3))
    q = LSQQuantizer(fq, "weight")
    assert q.gradient_scale(torch.randn(8, 3)) == pytest.approx(1 / math.sqrt(24 * 7))
    act = LSQQuantizer(fq, "activation")
    assert act.gradient_scale(torch.randn(5, 3, 4, 4)) == pytest.approx(1 / math.sqrt(48 * 7))


def _tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


@pytest.mark.parametrize("granularity", ["per_channel", "per_tensor"])
def test_prepared_model_reproduces_ptq_then_learns_scales(granularity):
    net = _tiny_net()
    calib = [torch.randn(8, 1, 6, 6) for _ in range(2)]
    quantize_(net, QuantRecipe(w_bits=4, a_bits=4, granularity=granularity), calib=calib)
    x = torch.randn(4, 1, 6, 6)
    with torch.no_grad():
        before = net(x)
    replaced = make_learnable(net, learn_offset=False)
    assert replaced == 6                                     # 3 layers x (weight, input)
    with torch.no_grad():
        assert torch.equal(net(x), before)
    params = [p for n, p in net.named_parameters() if n.endswith("scale")]
    assert len(params) == 6
    net.train()
    net(x).pow(2).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_lsq_plus_offsets_only_on_asymmetric_activations():
    net = _tiny_net()
    quantize_(net, QuantRecipe(w_bits=4, a_bits=4), calib=[torch.randn(8, 1, 6, 6)])
    x = torch.randn(4, 1, 6, 6)
    with torch.no_grad():
        before = net(x)
    make_learnable(net, learn_offset=True)
    offsets = [n for n, _ in net.named_parameters() if n.endswith("offset")]
    assert offsets and all("input_quantizer" in n for n in offsets)
    with torch.no_grad():       # same grid; only exact .5 ties may round the other way
        assert (net(x) - before).abs().max() < 1e-3 * before.abs().max()
