"""A fake quantizer: one tensor's bit width, scheme, observer and frozen qparams.

Modes: ``observe`` (calibration: record statistics, pass values through unchanged),
``quant`` (fake-quantize with the frozen scale and zero point) and ``off``.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.quant.granularity import Granularity, PerGroup, PerTensor
from genq.quant.observers import make_observer
from genq.quant.primitives import fake_quantize, qrange

MODES = ("off", "observe", "quant")


class FakeQuantizer(nn.Module):
    def __init__(self, bits: int, symmetric: bool, granularity: Granularity = PerTensor(),
                 observer: str = "minmax", name: str = "") -> None:
        super().__init__()
        self.bits, self.symmetric, self.granularity = bits, symmetric, granularity
        self.qmin, self.qmax = qrange(bits, symmetric)
        self.observer = make_observer(observer, granularity, name)
        self.register_buffer("scale", None)
        self.register_buffer("zero_point", None)
        self.mode = "off"

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        self.mode = mode

    def freeze(self) -> None:
        """Compute qparams from what the observer saw and start quantizing."""
        self.scale, self.zero_point = self.observer.calculate_qparams(self.bits, self.symmetric)
        self.mode = "quant"

    def calibrate_from(self, x: torch.Tensor) -> None:
        """Observe ``x`` once and freeze (weights need no data)."""
        self.observer(x.detach())
        self.freeze()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "observe":
            return self.observer(x)
        if self.mode == "quant":
            g = self.granularity
            if isinstance(g, PerGroup):
                return fake_quantize(x, self.scale, self.zero_point, self.qmin, self.qmax,
                                     axis=g.axis, group_size=g.group_size)
            return fake_quantize(x, self.scale, self.zero_point, self.qmin, self.qmax)
        return x

    def describe(self) -> str:
        kind = "sym" if self.symmetric else "asym"
        return f"int{self.bits} {kind} {type(self.granularity).__name__}"

    def extra_repr(self) -> str:
        return f"{self.describe()}, mode={self.mode}"
