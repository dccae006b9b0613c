"""Effective bits against hand counts on a tiny MLP (64 -> 128 -> 128 -> 64, weights of
8192, 16384 and 8192 elements; 32768 in all)."""

import pytest
import torch
from torch import nn

from genq.quant import QuantRecipe, quantize_
from genq.quant.effective_bits import effective_bits

SHAPES = [(128, 64), (128, 128), (64, 128)]          # (out, in) of the three Linear layers
ELEMENTS = sum(o * i for o, i in SHAPES)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(), nn.Linear(128, 64))


def _quantized(**recipe) -> nn.Module:
    net = _mlp()
    quantize_(net, QuantRecipe(**recipe), calib=[torch.randn(16, 64)])
    return net


def test_fp_model_costs_32_bits():
    info = effective_bits(_mlp())
    assert (info["effective_w_bits"], info["effective_a_bits"]) == (32.0, 32.0)
    assert info["effective_bits_layers"] == {"covered": 3, "weights_quantized": 0, "weights_fp": 3}


def test_int8_per_channel_counts_one_16_bit_scale_per_output_channel():
    info = effective_bits(_quantized(w_bits=8, a_bits=8))
    hand = (ELEMENTS * 8 + 16 * sum(o for o, _ in SHAPES)) / ELEMENTS      # 8 + 16*320/32768
    assert info["effective_w_bits"] == pytest.approx(hand, abs=1e-4)
    assert info["effective_w_bits"] == pytest.approx(8.15625, abs=1e-4)
    assert info["effective_a_bits"] == 8.0          # static per-tensor: one scale per tensor


def test_int4_group_64_with_16_bit_scales_is_4_25():
    info = effective_bits(_quantized(w_bits=4, a_bits=None, granularity="per_group", group_size=64))
    assert info["effective_w_bits"] == 4.25
    assert info["effective_a_bits"] == 32.0         # activations not quantized: FP32


def test_mxfp4_and_nvfp4_weights_and_activations():
    mx = effective_bits(_quantized(w_bits=None, a_bits=None, w_format="mxfp4", a_format="mxfp4"))
    assert (mx["effective_w_bits"], mx["effective_a_bits"]) == (4.25, 4.25)
    nv = effective_bits(_quantized(w_bits=None, a_bits=None, w_format="nvfp4", a_format="nvfp4"))
    hand = 4 + 8 / 16 + 3 * 32 / ELEMENTS           # plus one FP32 tensor scale per weight
    assert nv["effective_w_bits"] == pytest.approx(hand, abs=1e-4)
    assert nv["effective_a_bits"] == 4.5


def test_fp_kept_layers_count_at_32_bits():
    info = effective_bits(_quantized(w_bits=4, a_bits=None, granularity="per_group", group_size=64,
                                     first_last="fp"))
    middle = 128 * 128
    hand = (middle * 4.25 + (ELEMENTS - middle) * 32) / ELEMENTS
    assert info["effective_w_bits"] == pytest.approx(hand, abs=1e-4)
    assert info["effective_bits_layers"] == {"covered": 3, "weights_quantized": 1, "weights_fp": 2}


def test_lowrank_branch_is_counted_at_16_bits_with_its_layer():
    net = _quantized(w_bits=4, a_bits=None, granularity="per_group", group_size=64)
    rank = 8
    net[2].lowrank = nn.Sequential(nn.Linear(128, rank, bias=False), nn.Linear(rank, 128, bias=False))
    info = effective_bits(net)
    hand = (ELEMENTS * 4.25 + 16 * 2 * 128 * rank) / ELEMENTS    # 4.25 + 32768/32768
    assert info["effective_w_bits"] == pytest.approx(hand, abs=1e-4) and hand == 5.25
    assert info["effective_bits_layers"]["covered"] == 3         # the branch's Linears are not layers


def test_asymmetric_weights_add_a_zero_point_per_scale_and_dynamic_per_token_a_scale():
    info = effective_bits(_quantized(w_bits=4, w_symmetric=False, a_bits=8, a_dynamic=True,
                                     a_granularity="per_token"))
    hand_w = (ELEMENTS * 4 + (16 + 4) * 320) / ELEMENTS
    hand_a = sum(8 + 16 / i for _, i in SHAPES) / 3               # one 16-bit scale per token
    assert info["effective_w_bits"] == pytest.approx(hand_w, abs=1e-4)
    assert info["effective_a_bits"] == pytest.approx(hand_a, abs=1e-4)
