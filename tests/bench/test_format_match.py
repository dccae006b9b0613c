"""The CUDA int8/fp8 backends time torchao's formats; the record says where they differ
from the scored ones (checked without a GPU: the comparison is pure)."""

import torch
from torch import nn

from genq.bench.backends.format_match import format_notes
from genq.quant import QuantRecipe, quantize_


def _net(recipe):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 32))
    quantize_(net, recipe, calib=[torch.randn(4, 32)])
    return net


def test_w4a8_timed_as_fp8_is_named():
    notes = format_notes("cuda_fp8", _net(QuantRecipe(w_bits=4, a_bits=8)))
    assert len(notes) == 1 and "2 Linear layers scored as weights int4" in notes[0]
    assert "timed as weights fp8_e4m3" in notes[0]


def test_matching_format_has_no_note_and_cpu_backends_none():
    fp8 = _net(QuantRecipe(w_bits=None, a_bits=None, w_format="fp8_e4m3", a_format="fp8_e4m3",
                           a_dynamic=True))
    assert format_notes("cuda_fp8", fp8) == []
    assert format_notes("cpu_int8", fp8) == []
    assert "scores the FP model" in format_notes("cuda_int8", None)[0]
