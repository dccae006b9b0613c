"""Observers watch tensors during calibration and turn what they saw into quantization
parameters (scale, zero point) shaped to broadcast against the observed tensor.

- ``minmax``: running min and max, the naive PTQ baseline (Jacob et al., 2018).
- ``ema``: exponential moving average of per-batch min and max (Jacob et al., 2018).
- ``percentile``: range clipped at a percentile of every value seen (McKinstry et al., 2019;
  Wu et al., 2020).
- ``mse``: clipping range searched for the lowest quantization MSE (Banner et al., 2019;
  Nagel et al., 2021).
"""

from __future__ import annotations

import torch
from torch import nn

from genq.errors import GenqError, check_choice
from genq.quant.formats import Format, as_format
from genq.quant.granularity import Granularity, PerBlock, PerChannel, PerTensor
from genq.quant.primitives import _group_view, block_view, tensor_range


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not torch.isfinite(x).all():
        raise GenqError(f"calibration saw NaN or inf at {name or 'a quantizer'}; the FP model "
                        "produces non-finite values on the calibration data.")


def _no_data(name: str) -> GenqError:
    return GenqError(f"{name or 'a quantizer'} saw no calibration data; it was not "
                     "reached by any forward pass of the calibration inputs.")


def _rows(x: torch.Tensor, g: Granularity) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``x`` as (quantization groups, values), and the shape its qparams take (the layout
    ``tensor_range`` returns)."""
    if isinstance(g, PerTensor):
        return x.reshape(1, -1), ()
    if isinstance(g, PerChannel):
        axis = g.axis % x.dim()
        shape = tuple(n if d == axis else 1 for d, n in enumerate(x.shape))
        return x.movedim(axis, 0).reshape(x.shape[axis], -1), shape
    if isinstance(g, PerBlock):
        tiles = block_view(x, g)
        return tiles.reshape(-1, tiles.shape[-1]), (*tiles.shape[:-1], 1)
    grouped = _group_view(x, g)
    return grouped.reshape(-1, g.group_size), (*grouped.shape[:-1], 1)


class MinMaxObserver(nn.Module):
    """Running minimum and maximum over every batch seen (Jacob et al., 2018,
    arXiv:1712.05877)."""

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "") -> None:
        super().__init__()
        self.granularity = granularity
        self.name = name
        self.min_val: torch.Tensor | None = None
        self.max_val: torch.Tensor | None = None

    def _update(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        self.min_val = torch.minimum(self.min_val, lo)
        self.max_val = torch.maximum(self.max_val, hi)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_finite(x, self.name)
        lo, hi = tensor_range(x, self.granularity)
        if self.min_val is None:
            self.min_val, self.max_val = lo.clone(), hi.clone()
        else:
            self._update(lo, hi)
        return x

    def calculate_qparams(self, fmt: "Format | int", symmetric: bool | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Qparams of format ``fmt`` (or integer ``bits`` with ``symmetric``) for the range seen."""
        if self.min_val is None:
            raise _no_data(self.name)
        return as_format(fmt, symmetric).qparams(self.min_val, self.max_val)


class EMAMinMaxObserver(MinMaxObserver):
    """Exponential moving average of each batch's min and max, the first batch initialising
    it: ``m <- m + c * (batch_m - m)`` (Jacob et al., 2018, arXiv:1712.05877, section 3.1;
    torch.ao's MovingAverageMinMaxObserver, whose default c = 0.01 this shares)."""

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "",
                 averaging_constant: float = 0.01) -> None:
        super().__init__(granularity, name)
        if not 0.0 < averaging_constant <= 1.0:
            raise GenqError(f"averaging_constant={averaging_constant!r} is out of range; "
                            "accepted: a number in (0, 1].")
        self.averaging_constant = averaging_constant

    def _update(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        c = self.averaging_constant
        self.min_val = self.min_val + c * (lo - self.min_val)
        self.max_val = self.max_val + c * (hi - self.max_val)


class _SampledObserver(nn.Module):
    """Keeps the running min/max per group and a deterministic, bounded uniform subsample of
    every value seen (a reservoir merged batch by batch, each value kept with equal chance).

    ``max_samples`` bounds the values kept over all groups together, with at least 4096 per
    group: memory is about 4 bytes x max(max_samples, 4096 x groups)."""

    MIN_PER_GROUP = 4096

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "",
                 max_samples: int = 2 ** 20, seed: int = 0) -> None:
        super().__init__()
        if int(max_samples) < 1:
            raise GenqError(f"max_samples={max_samples!r} is out of range; accepted: a positive "
                            "integer.")
        self.granularity, self.name = granularity, name
        self.max_samples = int(max_samples)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.samples: torch.Tensor | None = None      # (groups, kept values)
        self.min_val: torch.Tensor | None = None      # (groups,)
        self.max_val: torch.Tensor | None = None
        self.seen = 0                                 # values seen per group
        self.shape: tuple[int, ...] = ()

    def _pick(self, rows: torch.Tensor, k: int) -> torch.Tensor:
        if k >= rows.shape[1]:
            return rows
        idx = torch.randperm(rows.shape[1], generator=self.generator)[:k]
        return rows[:, idx.to(rows.device)]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_finite(x, self.name)
        rows, shape = _rows(x.detach().float(), self.granularity)
        if self.samples is None:
            self.shape, self.samples = shape, rows[:, :0]
            self.min_val, self.max_val = rows.amin(dim=1), rows.amax(dim=1)
        elif shape != self.shape:
            raise GenqError(f"{self.name or 'a quantizer'} saw quantization groups of shape "
                            f"{self.shape} then {shape}; accepted: the same group layout in "
                            "every calibration batch.")
        else:
            self.min_val = torch.minimum(self.min_val, rows.amin(dim=1))
            self.max_val = torch.maximum(self.max_val, rows.amax(dim=1))
        cap = max(self.max_samples // rows.shape[0], self.MIN_PER_GROUP)
        n, total = rows.shape[1], self.seen + rows.shape[1]
        if self.samples.shape[1] + n <= cap:
            self.samples = torch.cat([self.samples, rows], dim=1)
        else:  # the kept values stand for all `seen`; keep old and new in proportion
            k_new = min(n, round(cap * n / total))
            self.samples = torch.cat([self._pick(self.samples, cap - k_new),
                                      self._pick(rows, k_new)], dim=1)
        self.seen = total
        return x

    def _qparams(self, lo: torch.Tensor, hi: torch.Tensor, fmt: Format) -> tuple[torch.Tensor, torch.Tensor]:
        scale, zero_point = fmt.qparams(lo, hi)
        return scale.reshape(self.shape), zero_point.reshape(self.shape)


def _quantile(sorted_rows: torch.Tensor, q: float) -> torch.Tensor:
    """Row-wise quantile of sorted rows, interpolated linearly (numpy's default method)."""
    pos = q * (sorted_rows.shape[1] - 1)
    lo = int(pos)
    hi = min(lo + 1, sorted_rows.shape[1] - 1)
    return sorted_rows[:, lo] + (pos - lo) * (sorted_rows[:, hi] - sorted_rows[:, lo])


class PercentileObserver(_SampledObserver):
    """Range clipped to the [100 - p, p] percentiles of every value seen in calibration, so
    a few outliers do not stretch the grid (McKinstry et al., 2019, arXiv:1809.04191;
    Wu et al., 2020, arXiv:2004.09602). Exact while the values seen fit ``max_samples``."""

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "",
                 percentile: float = 99.99, max_samples: int = 2 ** 20, seed: int = 0) -> None:
        super().__init__(granularity, name, max_samples, seed)
        if not 50.0 < percentile <= 100.0:
            raise GenqError(f"percentile={percentile!r} is out of range; accepted: a number in "
                            "(50, 100].")
        self.percentile = float(percentile)

    def calculate_qparams(self, fmt: "Format | int", symmetric: bool | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.samples is None:
            raise _no_data(self.name)
        s = self.samples.sort(dim=1).values
        p = self.percentile / 100.0
        return self._qparams(_quantile(s, 1.0 - p), _quantile(s, p), as_format(fmt, symmetric))


class MSEObserver(_SampledObserver):
    """Clipping range with the lowest mean squared quantization error: the min-max range
    shrunk by each factor k/grid, k = grid..1, picked per quantization group on the kept
    sample of values (Banner et al., 2019, arXiv:1810.05723; Nagel et al., 2021,
    arXiv:2106.08295, section 3.4). Ties keep the wider range; factor 1 is min-max."""

    def __init__(self, granularity: Granularity = PerTensor(), name: str = "", grid: int = 100,
                 max_samples: int = 2 ** 20, seed: int = 0) -> None:
        super().__init__(granularity, name, max_samples, seed)
        if int(grid) < 1:
            raise GenqError(f"grid={grid!r} is out of range; accepted: a positive integer.")
        self.grid = int(grid)

    @torch.no_grad()
    def calculate_qparams(self, fmt: "Format | int", symmetric: bool | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.samples is None:
            raise _no_data(self.name)
        fmt = as_format(fmt, symmetric)
        x = self.samples
        best_err = torch.full((x.shape[0],), float("inf"), device=x.device)
        best_lo, best_hi = self.min_val.clone(), self.max_val.clone()
        for k in range(self.grid, 0, -1):
            lo, hi = self.min_val * (k / self.grid), self.max_val * (k / self.grid)
            scale, zp = fmt.qparams(lo, hi)
            err = (fmt.fake_quantize(x, scale[:, None], zp[:, None]) - x).pow(2).mean(dim=1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_lo, best_hi = torch.where(better, lo, best_lo), torch.where(better, hi, best_hi)
        return self._qparams(best_lo, best_hi, fmt)


OBSERVERS: dict[str, type[nn.Module]] = {"minmax": MinMaxObserver, "ema": EMAMinMaxObserver,
                                         "percentile": PercentileObserver, "mse": MSEObserver}
OPTIONS: dict[str, tuple[str, ...]] = {
    "minmax": (), "ema": ("averaging_constant",),
    "percentile": ("percentile", "max_samples", "seed"),
    "mse": ("grid", "max_samples", "seed")}


def make_observer(name: str, granularity: Granularity, where: str = "",
                  **options: object) -> nn.Module:
    """Build observer ``name`` for the tensor at ``where``. ``options`` may hold any
    observer's options (``averaging_constant``, ``percentile``, ``grid``, ``max_samples``,
    ``seed``); each observer takes its own, and options set to None keep the default."""
    check_choice("quant.observer", name, OBSERVERS)
    known = {o for opts in OPTIONS.values() for o in opts}
    for option in options:
        check_choice("observer option", option, known)
    kwargs = {k: v for k, v in options.items() if k in OPTIONS[name] and v is not None}
    return OBSERVERS[name](granularity, where, **kwargs)
