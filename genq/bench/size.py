"""Model size in bytes: as stored now (FP32 tensors), and as the quantized model would be
stored with its quantized weights packed at their bit width (plus their scales and zero
points). The packed size is computed from the tensors, not measured on a file."""

from __future__ import annotations

import math

from torch import nn


def model_bytes(module: nn.Module) -> int:
    """Bytes of all parameters and buffers at their current dtype."""
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


def packed_model_bytes(module: nn.Module) -> int:
    """Bytes with every fake-quantized weight counted at ``weight_quantizer.bits`` per element."""
    total = 0
    for mod in module.modules():
        wq = getattr(mod, "weight_quantizer", None)
        for name, t in mod.named_parameters(recurse=False):
            if name == "weight" and wq is not None and getattr(wq, "mode", "") == "quant":
                total += math.ceil(t.numel() * wq.bits / 8)
            else:
                total += t.numel() * t.element_size()
        for name, t in mod.named_buffers(recurse=False):
            total += t.numel() * t.element_size()
    return total
