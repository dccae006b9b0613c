"""A fake quantizer: one tensor's number format, granularity, observer and frozen qparams.

Modes: ``observe`` (calibration: record statistics, pass values through unchanged),
``quant`` (static: fake-quantize with the frozen scale and zero point), ``dynamic``
(compute min-max qparams from every batch at run time, per tensor or per token) and
``off``. The format (:mod:`genq.quant.formats`) decides the grid; block-scaled formats
take their scales from each block of values, at run time (activations) or once (weights).
The observer keeps its statistics after :meth:`FakeQuantizer.freeze`, so
:meth:`FakeQuantizer.refreeze` moves a calibrated tensor to another format without
running the calibration data again.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.formats import BlockFormat, Format, IntFormat, as_format
from genq.quant.granularity import Granularity, PerBlock, PerGroup, PerTensor
from genq.quant.observers import make_observer
from genq.quant.primitives import block_unview, block_view

MODES = ("off", "observe", "quant", "dynamic")


class FakeQuantizer(nn.Module):
    """Fake quantization of one tensor in format ``fmt`` (an integer bit width with
    ``symmetric`` is read as :class:`IntFormat`)."""

    def __init__(self, fmt: "Format | int", symmetric: bool | None = None,
                 granularity: Granularity = PerTensor(), observer: str = "minmax", name: str = "",
                 dynamic: bool = False, token_axis: int | None = None,
                 observer_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.format: Format = as_format(fmt, symmetric)
        self.granularity = granularity
        self.name = name
        self.block_axis = token_axis if token_axis is not None else getattr(granularity, "axis", -1)
        self.dynamic = dynamic
        self.token_axis = token_axis          # dynamic per-token: the channel axis reduced over
        self.observer_name, self.observer_options = observer, dict(observer_options or {})
        self.observer = None if dynamic or self.is_block else make_observer(
            observer, granularity, name, **self.observer_options)
        self.register_buffer("scale", None)
        self.register_buffer("zero_point", None)
        # block formats: what values are multiplied by to reach the element grid (NVFP4's
        # (1 / tensor scale) / block scale, not exactly 1 / scale; see BlockFormat)
        self.register_buffer("block_multiplier", None)
        self.mode = "dynamic" if dynamic else "off"

    # -- the format, as the integer-only code before formats read it --------------------
    @property
    def is_block(self) -> bool:
        return isinstance(self.format, BlockFormat)

    @property
    def bits(self) -> int:
        return self.format.bits

    @property
    def symmetric(self) -> bool:
        return getattr(self.format, "symmetric", True)

    @property
    def qmin(self) -> int:
        return self._int_format().qmin

    @property
    def qmax(self) -> int:
        return self._int_format().qmax

    def _int_format(self) -> IntFormat:
        if not isinstance(self.format, IntFormat):
            raise GenqError(f"{self.name or 'a quantizer'} holds {self.format.name}, not an integer "
                            "format; accepted here: int formats (AdaRound, LSQ and integer kernels "
                            "need an integer grid).")
        return self.format

    def fresh_copy(self, granularity: Granularity | None = None, name: str | None = None) -> "FakeQuantizer":
        """A quantizer with these settings and an empty observer, observing (split and
        per-timestep quantizers start from it: the one way genq clones a quantizer)."""
        new = FakeQuantizer(self.format, None, self.granularity if granularity is None else granularity,
                            self.observer_name, self.name if name is None else name, self.dynamic,
                            self.token_axis, self.observer_options)
        new.set_mode("observe")
        return new

    # -- modes ---------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if not self.dynamic:
            self.mode = mode

    def freeze(self) -> None:
        """Compute qparams from what the observer saw and start quantizing."""
        self.scale, self.zero_point = self.observer.calculate_qparams(self.format)
        self.mode = "quant"

    def refreeze(self, fmt: "Format | None" = None, weight: torch.Tensor | None = None) -> None:
        """Switch to format ``fmt`` and recompute the qparams from the statistics the observer
        kept (block formats: from ``weight``), without new calibration passes."""
        if fmt is not None:
            if isinstance(fmt, BlockFormat) != self.is_block:
                raise GenqError(f"{self.name}: cannot refreeze {self.format.name} as {fmt.name}; "
                                "accepted: a format of the same kind (block-scaled or not).")
            self.format = fmt
        if self.is_block:
            if weight is None:
                raise GenqError(f"{self.name}: a block-scaled weight refreezes from its weight.")
            self.calibrate_from(weight)
        elif self.observer is not None:
            self.freeze()

    def calibrate_from(self, x: torch.Tensor) -> None:
        """Observe ``x`` once and freeze (weights need no data)."""
        if self.is_block:
            self.scale, self.block_multiplier = self.format.scales_and_multipliers(x.detach(), self.block_axis)
            self.zero_point = torch.zeros_like(self.scale)
            self.mode = "quant"
            return
        self.observer(x.detach())
        self.freeze()

    def _dynamic(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_block:
            return self.format.fake_quantize_blocks(x, self.block_axis)
        if self.token_axis is None:
            lo, hi = x.detach().min(), x.detach().max()
        else:
            lo = x.detach().amin(dim=self.token_axis, keepdim=True)
            hi = x.detach().amax(dim=self.token_axis, keepdim=True)
        scale, zero_point = self.format.qparams(lo, hi)
        return self.format.fake_quantize(x, scale, zero_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "observe":
            return self.observer(x)
        if self.mode == "quant":
            g = self.granularity
            if self.is_block:
                return self.format.fake_quantize_blocks(x, self.block_axis, self.scale, self.block_multiplier)
            if isinstance(g, PerGroup):
                return self.format.fake_quantize(x, self.scale, self.zero_point, axis=g.axis,
                                                 group_size=g.group_size)
            if isinstance(g, PerBlock):
                tiles = self.format.fake_quantize(block_view(x, g), self.scale, self.zero_point)
                return block_unview(tiles, g, x)
            return self.format.fake_quantize(x, self.scale, self.zero_point)
        if self.mode == "dynamic":
            return self._dynamic(x)
        return x

    def describe(self) -> str:
        kind = self.format.describe()
        if self.dynamic:
            where = ("per-block" if self.is_block else
                     "per-token" if self.token_axis is not None else "per-tensor")
            return f"{kind} dynamic {where}"
        g = self.granularity
        where = ("per-block" if self.is_block else {PerTensor: "per-tensor"}.get(type(g)) or (
            f"per-group({g.group_size})" if isinstance(g, PerGroup) else
            f"per-block({g.block_out}x{g.block_in})" if isinstance(g, PerBlock) else "per-channel"))
        observer = type(self.observer).__name__.replace("Observer", "").lower() if self.observer else ""
        return f"{kind} {where} {observer}".strip()

    def extra_repr(self) -> str:
        return f"{self.describe()}, mode={self.mode}"
