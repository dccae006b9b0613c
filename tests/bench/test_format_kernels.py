"""bench= refuses formats that no kernel on the machine runs (the GPU's compute capability is
given, or torch's answer monkeypatched: no GPU needed); cpu_int8 refuses non-integer formats."""

import pytest
import torch
from torch import nn

from genq.bench.backends.cpu_int8 import build_cpu_int8
from genq.bench.backends.format_kernels import check_kernel_formats
from genq.errors import GenqError
from genq.quant import QuantRecipe, quantize_

HOPPER, AMPERE, BLACKWELL = (9, 0), (8, 0), (10, 0)


def _net(**recipe) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 32))
    quantize_(net, QuantRecipe(**recipe), calib=[torch.randn(4, 32)])
    return net


def _formats(w, a=None, **extra):
    return _net(w_bits=None, a_bits=None, w_format=w, a_format=a, **extra)


def test_mx_and_nvfp4_need_blackwell_and_the_layers_are_named():
    with pytest.raises(GenqError) as err:
        check_kernel_formats("cuda_fp8", _formats("mxfp4", "nvfp4"), HOPPER)
    text = str(err.value)
    assert "mxfp4 needs block-scaled GEMMs, which need a Blackwell GPU" in text and "has 9.0" in text
    assert "0 (weight), 2 (weight)" in text and "nvfp4 needs" in text and "0 (input), 2 (input)" in text
    assert "bench=fake-quant" in text


def test_mx_on_blackwell_is_refused_for_want_of_a_genq_backend():
    with pytest.raises(GenqError, match="genq has no backend wired to torchao's MX/NVFP4"):
        check_kernel_formats("cuda_int8", _formats("mxfp8_e4m3"), BLACKWELL)


def test_fp8_needs_ada_or_hopper():
    fp8 = _formats("fp8_e4m3", "fp8_e4m3", a_dynamic=True)
    check_kernel_formats("cuda_fp8", fp8, HOPPER)
    with pytest.raises(GenqError, match="fp8_e4m3 needs FP8 GEMMs.*>= 8.9.*has 8.0"):
        check_kernel_formats("cuda_int8", fp8, AMPERE)


def test_plain_fp4_has_no_kernel_anywhere_and_integers_run_everywhere():
    with pytest.raises(GenqError, match="fp4_e2m1 with per-tensor/channel scales: no GEMM kernel"):
        check_kernel_formats("cuda_fp8", _formats("fp4_e2m1"), BLACKWELL)
    check_kernel_formats("cuda_int8", _net(w_bits=4, a_bits=8), AMPERE)


def test_capability_is_read_from_torch_and_autocast_backends_are_not_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 6))
    with pytest.raises(GenqError, match="has 8.6"):
        check_kernel_formats("cuda_fp8", _formats("nvfp4"))
    check_kernel_formats("cuda_bf16", _formats("nvfp4"))      # times the FP model under autocast
    check_kernel_formats("cuda_fp8", None)                      # quant=fp32: nothing to refuse


@pytest.mark.parametrize("w_format", ["fp8_e4m3", "mxfp4"])
def test_cpu_int8_refuses_non_integer_formats(w_format):
    net = _net(w_bits=None, a_bits=8, w_format=w_format)
    with pytest.raises(GenqError, match=f"weight format {w_format}: x86 int8 kernels take integer formats only"):
        build_cpu_int8(net, (torch.randn(4, 32),), compile=False)
