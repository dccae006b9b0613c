"""A fake quantizer: one tensor's bit width, scheme, observer and frozen qparams.

Modes: ``observe`` (calibration: record statistics, pass values through unchanged),
``quant`` (static: fake-quantize with the frozen scale and zero point), ``dynamic``
(compute min-max qparams from every batch at run time, per tensor or per token) and
``off``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.quant.granularity import Granularity, PerGroup, PerTensor
from genq.quant.observers import make_observer
from genq.quant.primitives import fake_quantize, qparams_from_range, qrange

MODES = ("off", "observe", "quant", "dynamic")


class FakeQuantizer(nn.Module):
    def __init__(self, bits: int, symmetric: bool, granularity: Granularity = PerTensor(),
                 observer: str = "minmax", name: str = "", dynamic: bool = False,
                 token_axis: int | None = None, observer_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.bits, self.symmetric, self.granularity = bits, symmetric, granularity
        self.qmin, self.qmax = qrange(bits, symmetric)
        self.name = name
        self.dynamic = dynamic
        self.token_axis = token_axis          # dynamic per-token: the channel axis reduced over
        self.observer = None if dynamic else make_observer(observer, granularity, name,
                                                           **(observer_options or {}))
        self.register_buffer("scale", None)
        self.register_buffer("zero_point", None)
        self.mode = "dynamic" if dynamic else "off"

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if not self.dynamic:
            self.mode = mode

    def freeze(self) -> None:
        """Compute qparams from what the observer saw and start quantizing."""
        self.scale, self.zero_point = self.observer.calculate_qparams(self.bits, self.symmetric)
        self.mode = "quant"

    def calibrate_from(self, x: torch.Tensor) -> None:
        """Observe ``x`` once and freeze (weights need no data)."""
        self.observer(x.detach())
        self.freeze()

    def _dynamic(self, x: torch.Tensor) -> torch.Tensor:
        if self.token_axis is None:
            lo, hi = x.detach().min(), x.detach().max()
        else:
            lo = x.detach().amin(dim=self.token_axis, keepdim=True)
            hi = x.detach().amax(dim=self.token_axis, keepdim=True)
        scale, zero_point = qparams_from_range(lo, hi, self.bits, self.symmetric)
        return fake_quantize(x, scale, zero_point, self.qmin, self.qmax)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "observe":
            return self.observer(x)
        if self.mode == "quant":
            g = self.granularity
            if isinstance(g, PerGroup):
                return fake_quantize(x, self.scale, self.zero_point, self.qmin, self.qmax,
                                     axis=g.axis, group_size=g.group_size)
            return fake_quantize(x, self.scale, self.zero_point, self.qmin, self.qmax)
        if self.mode == "dynamic":
            return self._dynamic(x)
        return x

    def describe(self) -> str:
        kind = "sym" if self.symmetric else "asym"
        if self.dynamic:
            where = "per-token" if self.token_axis is not None else "per-tensor"
            return f"int{self.bits} {kind} dynamic {where}"
        g = self.granularity
        where = {PerTensor: "per-tensor"}.get(type(g)) or (
            f"per-group({g.group_size})" if isinstance(g, PerGroup) else "per-channel")
        observer = type(self.observer).__name__.replace("Observer", "").lower() if self.observer else ""
        return f"int{self.bits} {kind} {where} {observer}".strip()

    def extra_repr(self) -> str:
        return f"{self.describe()}, mode={self.mode}"
