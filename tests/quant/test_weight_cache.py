"""The inference cache of fake-quantized weights (genq.quant.modules) follows every change of
what the quantized weight depends on: the quantizer's tensors, in place or replaced."""

from __future__ import annotations

import torch
from torch import nn

from genq.quant.modules import _state_token
from genq.quant.quantizer import FakeQuantizer


def _quantized_linear() -> nn.Module:
    from genq.config import compose_config
    from genq.quant import quantize_

    net = nn.Sequential(nn.Linear(8, 8))
    cfg = compose_config("model=dcgan_digits", "quant=w8a16").quant
    quantize_(net, cfg, calib=None)
    return net[0]


def test_state_token_lists_what_parameters_and_buffers_list() -> None:
    q = FakeQuantizer(4, True, name="w")
    q.calibrate_from(torch.randn(8, 8))
    listed = {(id(t), t._version) for t in (*q.parameters(), *q.buffers())}
    assert set(_state_token(q)[-1]) == listed


def test_cached_weight_follows_in_place_and_replaced_scales() -> None:
    layer = _quantized_linear()
    with torch.no_grad():
        first = layer.weight.clone()
        assert torch.equal(layer.weight, first)                       # served from the cache
        wq = layer.weight_quantizer
        wq.scale.mul_(2.0)                                            # in place: version bumps
        second = layer.weight.clone()
        assert not torch.equal(second, first)
        wq.scale = wq.scale / 2.0                                     # replaced buffer: new id
        assert torch.equal(layer.weight, first)
