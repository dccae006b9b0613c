"""CPU int8 kernels without VNNI/AMX sum pairs of u8 x s8 products in int16 with saturation
(vpmaddubsw): genq refuses 8-bit activations there (compiled), runs 7-bit ones exactly, and
detects the ISA from /proc/cpuinfo flags."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genq.bench.backends.cpu_int8 import build_cpu_int8, check_saturation
from genq.bench.backends.lowering import lower
from genq.bench.isa import int8_pairs_saturate
from genq.errors import GenqError
from genq.quant.api import quantize_
from genq.quant.recipe import QuantRecipe

AVX2 = {"model": "AMD EPYC", "isa": ["avx2"], "logical_cpus": 2}
VNNI = {"model": "AMD EPYC", "isa": ["avx512_vnni", "avx512f", "avx2"], "logical_cpus": 2}


def _saturating_linear(a_bits: int) -> tuple[nn.Module, torch.Tensor]:
    """y = sum(x) over 64 inputs of value 1: every activation code at the top of its grid and
    every weight at 127, so that a pair of products overflows int16 with 8-bit activations."""
    m = nn.Sequential(nn.Linear(64, 1, bias=False)).eval()
    with torch.no_grad():
        m[0].weight.fill_(1.0)
    calib = torch.cat([torch.zeros(1, 64), torch.ones(1, 64)])
    quantize_(m, QuantRecipe(w_bits=8, a_bits=a_bits), calib=[(calib,)])
    return m, torch.ones(4, 64)


def test_isa_decides_saturation():
    assert int8_pairs_saturate(AVX2)
    assert not int8_pairs_saturate(VNNI)
    assert not int8_pairs_saturate({**AVX2, "isa": ["avx_vnni", "avx2"]})
    assert not int8_pairs_saturate({**AVX2, "isa": ["amx_int8", "amx_bf16", "avx2"]})
    assert not int8_pairs_saturate({**AVX2, "isa": []})          # not x86: not this kernel family


def test_eight_bit_activations_are_refused_on_a_saturating_cpu():
    m, x = _saturating_linear(8)
    lowered = lower(m, (x,))
    with pytest.raises(GenqError, match=r"quant.a_bits=7.*allow_int8_saturation"):
        check_saturation(lowered, allow=False, cpu=AVX2)
    assert check_saturation(lowered, allow=False, cpu=VNNI) == []
    assert "saturate" in check_saturation(lowered, allow=True, cpu=AVX2)[0]
    m7, x7 = _saturating_linear(7)
    assert check_saturation(lower(m7, (x7,)), allow=False, cpu=AVX2) == []


@pytest.mark.slow
def test_seven_bit_activations_run_exactly_on_real_kernels():
    """Compiled (real oneDNN kernels, ~20 s): 7-bit activations equal the simulated model on
    any x86 CPU; this input overflows int16 pair sums with 8-bit activations."""
    m, x = _saturating_linear(7)
    out = build_cpu_int8(m, (x,), compile=True)["fn"](x)
    assert torch.allclose(out, m(x), rtol=1e-3, atol=1e-3)
