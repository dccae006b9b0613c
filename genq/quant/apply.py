"""Apply a :class:`~genq.quant.plan.QuantPlan` to a model and calibrate it, as two steps.

``apply_plan`` builds each layer's quantizers from its spec, freezes the weight ones (weights
need no data) and makes the layer fake-quantized in place; static activation quantizers
start observing. ``calibrate`` runs calibration data through the model and freezes them.
Applying a plan to a model that is already quantized and calibrated re-freezes every layer
whose spec changed only in its format from the statistics its observers kept, without
running the calibration data again; other changes rebuild the layer's quantizers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Union

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.formats import BlockFormat
from genq.quant.granularity import Granularity, PerBlock, PerChannel, PerGroup, PerTensor
from genq.quant.modules import dequantize_layer, is_quantized, quantize_layer
from genq.quant.observers import OBSERVERS
from genq.quant.plan import LayerSpec, QuantPlan, TensorSpec
from genq.quant.quantizer import FakeQuantizer
from genq.quant.report import LayerReport, QuantReport
from genq.quant.targets import LayerTarget, target_for

Calibration = Union[Callable[[nn.Module], Any], Iterable[Any], None]


def _weight_granularity(spec: TensorSpec, target: LayerTarget) -> Granularity:
    if spec.granularity == "per_tensor":
        return PerTensor()
    if spec.granularity == "per_channel":
        return PerChannel(target.out_axis)
    if spec.granularity == "per_block":
        return PerBlock(spec.group_size, spec.group_size, target.out_axis, target.in_axis)
    return PerGroup(spec.group_size, target.in_axis)


def weight_quantizer(spec: TensorSpec, target: LayerTarget, name: str) -> FakeQuantizer:
    fmt = spec.fmt()
    gran = (PerGroup(fmt.block_size, target.in_axis) if isinstance(fmt, BlockFormat)
            else _weight_granularity(spec, target))
    return FakeQuantizer(fmt, None, gran, spec.observer or "minmax", f"{name}.weight",
                         observer_options=spec.options)


def activation_quantizer(spec: TensorSpec, name: str, channel_axis: int | None) -> FakeQuantizer:
    fmt = spec.fmt()
    if spec.dynamic or isinstance(fmt, BlockFormat):
        axis = channel_axis if spec.granularity == "per_token" or isinstance(fmt, BlockFormat) else None
        return FakeQuantizer(fmt, None, PerTensor(), name=name, dynamic=True, token_axis=axis)
    aq = FakeQuantizer(fmt, None, PerTensor(), spec.observer or "minmax", name,
                       observer_options=spec.options)
    aq.set_mode("observe")
    return aq


def _refreezable(q: nn.Module | None, spec: TensorSpec | None) -> bool:
    """``q``, a calibrated static activation quantizer, can take ``spec`` by re-freezing from
    its observer's statistics (same observer; only the format changes)."""
    return (spec is not None and spec.static and type(q) is FakeQuantizer and q.mode == "quant"
            and q.observer is not None and type(q.observer) is OBSERVERS.get(spec.observer or "minmax"))


def _check_plan_matches(model: nn.Module, plan: QuantPlan) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    for spec in plan.layers:
        mod = modules.get(spec.name)
        if mod is None:
            raise GenqError(f"the plan names layer {spec.name!r}, which the model does not have; "
                            f"names look like: {', '.join(n for n in list(modules)[1:5])}.")
        if target_for(mod) is None:
            raise GenqError(f"the plan quantizes {spec.name!r}, a {type(mod).__name__}, which is not "
                            "a registered layer type (genq.quant.register_layer_target).")
    return modules


def _check_outlier_unchanged(mod: nn.Module, spec: LayerSpec) -> None:
    """A layer quantized earlier keeps its outlier method: re-applying a plan cannot undo or
    change smoothing, rotation or a low-rank branch (checked before any layer changes)."""
    from genq.quant.outliers.install import installed_outlier

    installed = installed_outlier(mod) if is_quantized(mod) else None
    if installed is not None and installed != spec.outlier:
        raise GenqError(f"{spec.name} already has outlier method {installed.method!r} and the plan "
                        f"asks for {getattr(spec.outlier, 'method', None)!r}; accepted: the same "
                        "method, or a fresh (unquantized) model.")


def _install_outlier(mod: nn.Module, spec: LayerSpec, stats: dict[str, torch.Tensor] | None) -> bool:
    """Install the layer's outlier method (genq.quant.outliers) unless it is there already;
    returns whether the layer has one."""
    from genq.quant.outliers.install import install_outlier, installed_outlier

    if spec.outlier is None or installed_outlier(mod) is not None:
        return spec.outlier is not None
    install_outlier(mod, spec.outlier, None if stats is None else stats.get(spec.name))
    return True


def apply_plan(model: nn.Module, plan: QuantPlan,
               outlier_stats: dict[str, torch.Tensor] | None = None) -> QuantReport:
    """Make ``model``'s layers fake-quantized as ``plan`` says (in place); returns the report.
    Static activation quantizers are left observing: run :func:`calibrate` next.
    ``outlier_stats`` are the per-channel input maxima smoothing needs
    (:func:`genq.quant.outliers.collect_input_absmax`, on the FP model)."""
    modules = _check_plan_matches(model, plan)
    report = QuantReport()
    specs = {s.name: s for s in plan.layers}
    built: list[tuple[nn.Module, LayerSpec, FakeQuantizer | None, FakeQuantizer | None]] = []
    for name, mod in model.named_modules():
        spec = specs.get(name)
        if spec is None:
            if name and any(True for _ in mod.parameters(recurse=False)) and not is_quantized(mod):
                reason = ("layer type not selected by quant.layers" if target_for(mod) is not None
                          else f"{type(mod).__name__} has no quantized implementation; kept in FP")
                report.layers.append(LayerReport(name, type(mod).__name__, "skipped", reason=reason))
            continue
        if spec.keep_fp:
            if is_quantized(mod):
                dequantize_layer(mod)
            report.layers.append(LayerReport(name, spec.layer_type, "skipped", reason=spec.reason))
            continue
        target = target_for(mod)
        _check_outlier_unchanged(mod, spec)
        wq = None if spec.weight is None else weight_quantizer(spec.weight, target, name)
        old = mod.input_quantizer if is_quantized(mod) else None
        if _refreezable(old, spec.input):
            old.refreeze(spec.input.fmt())        # no calibration pass: the observer kept its statistics
            aq = old
        else:
            aq = None if spec.input is None else activation_quantizer(
                spec.input, f"{name}.input", target.input_channel_axis)
        built.append((mod, spec, wq, aq))
        report.layers.append(LayerReport(name, spec.layer_type, "quantized",
                                         wq.describe() if wq else None,
                                         aq.describe() if aq else None, spec.reason,
                                         spec.outlier.method if spec.outlier else None))
    for mod, spec, wq, aq in built:   # weights quantized only once every check above has passed
        if is_quantized(mod):
            mod.weight_quantizer, mod.input_quantizer = wq, aq
        else:
            quantize_layer(mod, wq, aq)
        transformed = _install_outlier(mod, spec, outlier_stats)
        if wq is not None:            # outlier methods: the smoothed / rotated / residual weight
            wq.calibrate_from(mod.transformed_weight() if transformed
                              else mod._parameters[target_for(mod).weight])
    if plan.attention:
        from genq.quant.attention import quantize_attention

        for spec in plan.attention:
            report.layers.append(quantize_attention(modules[spec.name], spec, activation_quantizer))
    return report


def run_calibration(model: nn.Module, calib: Calibration) -> None:
    """Feed ``calib`` (a callable taking the model, or an iterable of inputs) through ``model``."""
    if callable(calib):
        calib(model)
        return
    for batch in calib:
        if isinstance(batch, torch.Tensor):
            model(batch)
        elif isinstance(batch, dict):
            model(**batch)
        else:
            model(*batch)


def observing_quantizers(model: nn.Module) -> list[FakeQuantizer]:
    return [m for m in model.modules() if isinstance(m, FakeQuantizer) and m.mode == "observe"]


def calibrate(model: nn.Module, calib: Calibration) -> int:
    """Run ``calib`` through ``model`` (eval mode, no grad) and freeze every observing
    quantizer; returns how many were frozen."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        run_calibration(model, calib)
    observing = observing_quantizers(model)
    for q in observing:
        q.freeze()
    model.train(was_training)
    return len(observing)
