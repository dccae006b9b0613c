"""``quantize_(model, config, calib=...)``: quantize the selected layers of ``model`` in
place, calibrate their static activation quantizers on ``calib`` and freeze. In the spirit
of torchao's ``quantize_``, it returns a report of what it did.

It is the three public steps in one call: :func:`~genq.quant.plan.make_plan` (every check
a config can fail — formats, granularity, observer, a name pattern that matches no module,
a group size that does not divide a layer's channels — runs there, before any calibration
forward pass), :func:`~genq.quant.apply.apply_plan` and :func:`~genq.quant.apply.calibrate`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from genq.errors import GenqError
from genq.quant.apply import Calibration, apply_plan, calibrate, run_calibration
from genq.quant.plan import QuantPlan, make_plan
from genq.quant.recipe import QuantRecipe
from genq.quant.report import QuantReport

__all__ = ["QuantRecipe", "quantize_", "run_calibration", "Calibration"]


def quantize_(model: nn.Module, config: Any = None, calib: Calibration = None,
              plan: QuantPlan | None = None, outlier_calib: Calibration = None) -> QuantReport:
    """Quantize ``model`` in place following ``config`` (a QuantRecipe or a ``quant`` config)
    or an explicit ``plan`` (a :class:`QuantPlan`, e.g. loaded from a file and edited).

    ``calib`` feeds the FP-equivalent model during calibration: a callable taking the model,
    or an iterable of inputs (a tensor, a tuple of positional inputs, or a dict of keyword
    inputs). It is required when activations are quantized with static scales, and for
    smoothing (``quant.outlier.method=smooth|svd``), whose scales come from a first pass of
    it through the FP model; ``outlier_calib`` replaces it for that pass (a callable that
    only feeds data, where ``calib`` also lays quantizers out).
    """
    plan = make_plan(model, config) if plan is None else plan
    if plan.needs_static_calibration() and calib is None:
        raise GenqError("static activation quantization (quant.a_bits, quant.attn_bits or "
                        "quant.softmax_bits) needs calibration data: pass calib=..., set "
                        "quant.a_dynamic=true, or leave activations in FP.")
    stats = None
    if plan.needs_outlier_statistics():
        from genq.quant.outliers.install import collect_input_absmax

        feed = outlier_calib if outlier_calib is not None else calib
        if feed is None:
            raise GenqError("quant.outlier.method=smooth/svd scales channels by their calibration "
                            "maxima and needs calibration data: pass calib=..., or "
                            "quant.outlier.method=rotate or none.")
        names = [s.name for s in plan.layers if s.outlier is not None and s.outlier.needs_statistics]
        stats = collect_input_absmax(model, names, lambda m: run_calibration(m, feed))
    report = apply_plan(model, plan, stats)
    if plan.needs_static_calibration():
        calibrate(model, calib)
    return report
