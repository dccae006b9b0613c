"""Outlier statistics per layer, before and after an outlier method, so a study can say why
a method helped where it did (issue 18).

For each layer, of its input activation (over the calibration data) and of its weight:

- ``kurtosis``: Pearson's kurtosis of the values, ``E[(x-mu)^4] / var^2`` (3 for a Gaussian;
  heavy tails, which low-bit grids fit badly, give more);
- ``ratio``: the largest input channel's absolute maximum over the median channel's
  (``max_j max|x_j| / median_j max|x_j|``; channels along the layer's input axis), the
  channel outliers SmoothQuant (arXiv:2211.10438) and QuaRot (arXiv:2404.00456) target.

"Before" reads the stored weight and the layer's input as it arrives; "after" the weight the
quantizer sees (``transformed_weight()``: smoothed, rotated, or the SVD residual) and the
input after the layer's input transforms. On a layer without an outlier method the two agree.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from genq.quant.modules import is_quantized
from genq.quant.outliers.input_hooks import observe_inputs
from genq.quant.targets import target_for


class _Moments:
    """Streaming moments (float64) and per-channel absolute maxima of one tensor stream."""

    def __init__(self) -> None:
        self.n, self.sums, self.absmax = 0, torch.zeros(4, dtype=torch.float64), None

    def add(self, t: torch.Tensor, channel_axis: int) -> None:
        x = t.detach().double().flatten()
        self.n += x.numel()
        self.sums += torch.stack([x.sum(), x.pow(2).sum(), x.pow(3).sum(), x.pow(4).sum()])
        amax = channel_absmax(t, channel_axis)
        self.absmax = amax if self.absmax is None else torch.maximum(self.absmax, amax)

    def summary(self) -> dict[str, float]:
        m1, m2, m3, m4 = (self.sums / max(self.n, 1)).tolist()
        var = m2 - m1 * m1
        central4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 ** 4
        return {"kurtosis": float(central4 / var ** 2) if var > 0 else float("nan"),
                "ratio": channel_ratio(self.absmax)}


def channel_absmax(t: torch.Tensor, axis: int) -> torch.Tensor:
    """``max |t|`` of every channel along ``axis`` (float64)."""
    axis = axis % t.dim()
    dims = [d for d in range(t.dim()) if d != axis]
    a = t.detach().double().abs()
    return a.amax(dim=dims) if dims else a


def channel_ratio(absmax: torch.Tensor) -> float:
    """Largest over median channel maximum (nan for a zero median)."""
    med = float(absmax.median())
    return float(absmax.max()) / med if med > 0 else float("nan")


def tensor_stats(t: torch.Tensor, channel_axis: int) -> dict[str, float]:
    """``kurtosis`` and channel ``ratio`` of one tensor (see the module docstring)."""
    m = _Moments()
    m.add(t, channel_axis)
    return m.summary()


def _layers(model: nn.Module, names: Optional[list[str]]) -> list[str]:
    if names is not None:
        return names
    quantized = [n for n, m in model.named_modules() if is_quantized(m)]
    return quantized or [n for n, m in model.named_modules() if n and target_for(m) is not None]


@torch.no_grad()
def outlier_statistics(model: nn.Module, calib: Any, names: Optional[list[str]] = None) -> list[dict[str, Any]]:
    """One row per layer (default: the quantized layers, else every registered one): its
    outlier method and the activation and weight ``kurtosis`` / ``ratio`` before and after
    it, over ``calib`` (inputs as :func:`genq.quant.apply.run_calibration` takes them)."""
    from genq.quant.apply import run_calibration

    names = _layers(model, names)
    acts = {n: (_Moments(), _Moments()) for n in names}

    def observe(name: str, mod: nn.Module, x: torch.Tensor, axis: int) -> None:
        before, after = acts[name]
        before.add(x, axis)
        for transform in (mod._modules.get("input_transforms") or ()):
            x = transform(x)
        after.add(x, axis)

    observe_inputs(model, names, observe, lambda m: run_calibration(m, calib))
    rows = []
    for name in names:
        mod = model.get_submodule(name)
        target = target_for(mod)
        stored = mod._parameters[target.weight]
        seen = mod.transformed_weight() if is_quantized(mod) else stored
        spec = mod.__dict__.get("genq_outlier")
        row: dict[str, Any] = {"layer": name, "type": type(mod).__mro__[2 if is_quantized(mod) else 0].__name__,
                               "method": spec.method if spec else "none"}
        for when, moments in zip(("before", "after"), acts[name]):
            if moments.n:
                row.update({f"act_{k}_{when}": v for k, v in moments.summary().items()})
        for when, w in (("before", stored), ("after", seen)):
            row.update({f"w_{k}_{when}": v for k, v in tensor_stats(w, target.in_axis).items()})
        rows.append(row)
    return rows
