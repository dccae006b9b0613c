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
    """Bytes with every fake-quantized weight counted at its format's bits per element,
    shared block scales included (``Format.bits_per_element``: MXFP4 4.25, NVFP4 4.5)."""
    total = 0
    for mod in module.modules():
        wq = getattr(mod, "weight_quantizer", None)
        target = getattr(mod, "genq_target", None)
        for name, t in mod.named_parameters(recurse=False):
            if target is not None and name == target.weight and wq is not None \
                    and getattr(wq, "mode", "") == "quant":
                fmt = getattr(wq, "format", None)
                bits = fmt.bits_per_element if fmt is not None else wq.bits
                total += math.ceil(t.numel() * bits / 8)
            else:
                total += t.numel() * t.element_size()
        for name, t in mod.named_buffers(recurse=False):
            total += t.numel() * t.element_size()
    return total
