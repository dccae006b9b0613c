"""Observers watch tensors during calibration and turn what they saw into quantization
parameters. Min-max (the naive PTQ baseline of Jacob et al., 2018) is the first; the
registry below is where percentile, EMA and MSE-search observers join it.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.errors import GenqError, check_choice
from genq.quant.granularity import Granularity, PerTensor
from genq.quant.primitives import qparams_from_range, tensor_range


class MinMaxObserver(nn.Module):
    """Running minimum and maximum over every batch seen."""

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "") -> None:
        super().__init__()
        self.granularity = granularity
        self.name = name
        self.min_val: torch.Tensor | None = None
        self.max_val: torch.Tensor | None = None

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.isfinite(x).all():
            raise GenqError(f"calibration saw NaN or inf at {self.name or 'a quantizer'}; the FP model "
                            "produces non-finite values on the calibration data.")
        lo, hi = tensor_range(x, self.granularity)
        if self.min_val is None:
            self.min_val, self.max_val = lo.clone(), hi.clone()
        else:
            self.min_val = torch.minimum(self.min_val, lo)
            self.max_val = torch.maximum(self.max_val, hi)
        return x

    def calculate_qparams(self, bits: int, symmetric: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if self.min_val is None:
            raise GenqError(f"{self.name or 'a quantizer'} saw no calibration data; it was not "
                            "reached by any forward pass of the calibration inputs.")
        return qparams_from_range(self.min_val, self.max_val, bits, symmetric)


OBSERVERS: dict[str, type[nn.Module]] = {"minmax": MinMaxObserver}


def make_observer(name: str, granularity: Granularity, where: str = "") -> nn.Module:
    check_choice("quant.observer", name, OBSERVERS)
    return OBSERVERS[name](granularity, where)
