"""PT2E observers whose qparams are set from outside: the calibrated simulated model's.

PT2E (torch.export-based post-training quantization, torchao.quantization.pt2e) normally
derives scales from observers run on calibration data. genq already calibrated the
simulated model, and the real backend must run on the same integer grid, so the observers
the X86 quantizer inserts are told their scale and zero point instead of observing.
"""

from __future__ import annotations

import torch
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver


class FixedObserver(MinMaxObserver):
    """Per-tensor observer returning ``fixed`` (scale, zero_point) once set."""

    fixed: tuple[torch.Tensor, torch.Tensor] | None = None

    def set_qparams(self, scale: float, zero_point: int) -> None:
        self.fixed = (torch.tensor([scale], dtype=torch.float32), torch.tensor([zero_point], dtype=torch.int32))

    def calculate_qparams(self):  # noqa: D102 - see class docstring
        if self.fixed is None:
            raise RuntimeError("FixedObserver: qparams were never set (a layer the simulated model "
                               "does not quantize was annotated)")
        return self.fixed


class FixedPerChannelObserver(PerChannelMinMaxObserver):
    """Per-channel symmetric weight observer returning the simulated weight scales."""

    fixed: tuple[torch.Tensor, torch.Tensor] | None = None

    def set_qparams(self, scale: torch.Tensor) -> None:
        s = scale.detach().float().reshape(-1)
        self.fixed = (s, torch.zeros_like(s, dtype=torch.int32))

    def calculate_qparams(self):  # noqa: D102
        if self.fixed is None:
            raise RuntimeError("FixedPerChannelObserver: weight scales were never set")
        return self.fixed
