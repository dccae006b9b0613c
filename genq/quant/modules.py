"""Fake-quantized drop-in replacements for Linear, Conv2d and ConvTranspose2d.

Each is a subclass of the torch layer it replaces (so state-dict keys and ``isinstance``
checks of surrounding code keep working) holding a weight quantizer and an
input-activation quantizer. The fake-quantized weight is cached while the weight and its
qparams are unchanged, so simulated inference pays the weight quantization once, not at
every forward pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genq.quant.quantizer import FakeQuantizer


class QuantMixin:
    """Shared state of the quantized layers."""

    weight: nn.Parameter
    weight_quantizer: FakeQuantizer | None
    input_quantizer: FakeQuantizer | None

    def _init_quant(self, src: nn.Module, weight_quantizer: FakeQuantizer | None,
                    input_quantizer: FakeQuantizer | None) -> None:
        self.weight = src.weight
        self.bias = src.bias
        self.train(src.training)
        self.weight_quantizer = weight_quantizer
        self.input_quantizer = input_quantizer
        self._qweight_cache: tuple | None = None

    def quantized_weight(self) -> torch.Tensor:
        wq = self.weight_quantizer
        if wq is None or wq.mode != "quant":
            return self.weight
        if self.training or torch.is_grad_enabled() and self.weight.requires_grad:
            return wq(self.weight)
        key = (self.weight._version, id(self.weight), id(wq.scale), wq.scale._version)
        if self._qweight_cache is None or self._qweight_cache[0] != key:
            with torch.no_grad():
                self._qweight_cache = (key, wq(self.weight))
        return self._qweight_cache[1]

    def quantized_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.input_quantizer is None else self.input_quantizer(x)


class QuantLinear(QuantMixin, nn.Linear):
    @classmethod
    def from_float(cls, mod: nn.Linear, weight_quantizer: FakeQuantizer | None,
                   input_quantizer: FakeQuantizer | None) -> "QuantLinear":
        new = cls(mod.in_features, mod.out_features, bias=mod.bias is not None, device="meta")
        new._init_quant(mod, weight_quantizer, input_quantizer)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.quantized_input(x), self.quantized_weight(), self.bias)


class QuantConv2d(QuantMixin, nn.Conv2d):
    @classmethod
    def from_float(cls, mod: nn.Conv2d, weight_quantizer: FakeQuantizer | None,
                   input_quantizer: FakeQuantizer | None) -> "QuantConv2d":
        new = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                  mod.dilation, mod.groups, mod.bias is not None, mod.padding_mode, device="meta")
        new._init_quant(mod, weight_quantizer, input_quantizer)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self.quantized_input(x), self.quantized_weight(), self.bias)


class QuantConvTranspose2d(QuantMixin, nn.ConvTranspose2d):
    @classmethod
    def from_float(cls, mod: nn.ConvTranspose2d, weight_quantizer: FakeQuantizer | None,
                   input_quantizer: FakeQuantizer | None) -> "QuantConvTranspose2d":
        new = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                  mod.output_padding, mod.groups, mod.bias is not None, mod.dilation,
                  mod.padding_mode, device="meta")
        new._init_quant(mod, weight_quantizer, input_quantizer)
        return new

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        output_padding = self._output_padding(x, output_size, self.stride, self.padding,
                                              self.kernel_size, 2, self.dilation)
        return F.conv_transpose2d(self.quantized_input(x), self.quantized_weight(), self.bias,
                                  self.stride, self.padding, output_padding, self.groups,
                                  self.dilation)


# Exact float type -> (quantized class, weight axis of output channels).
QUANT_MODULES: dict[type[nn.Module], tuple[type[nn.Module], int]] = {
    nn.Linear: (QuantLinear, 0),
    nn.Conv2d: (QuantConv2d, 0),
    nn.ConvTranspose2d: (QuantConvTranspose2d, 1),
}
