"""``quantize_(model, config, calib=...)``: swap the selected layers of ``model`` in place
for fake-quantized ones, calibrate their static activation quantizers on ``calib`` and
freeze. In the spirit of torchao's ``quantize_``, it returns a report of what it did.

Everything a config can get wrong (bits, granularity, observer, a name pattern that matches
no module, a group size that does not divide a layer's channels) is checked before any
calibration forward pass runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Optional, Union

import torch
from torch import nn

from genq.config import QuantConfig, validate_quant
from genq.errors import GenqError
from genq.quant.attention import QuantAttnProcessor, is_diffusers_attention
from genq.quant.granularity import Granularity, PerChannel, PerGroup, PerTensor
from genq.quant.modules import QUANT_MODULES
from genq.quant.quantizer import FakeQuantizer
from genq.quant.report import LayerReport, QuantReport

Calibration = Union[Callable[[nn.Module], Any], Iterable[Any], None]

# Axis of the input channels in each layer's weight (per-group runs along it).
_IN_AXIS = {nn.Linear: 1, nn.Conv2d: 1, nn.ConvTranspose2d: 0}


@dataclass
class QuantRecipe(QuantConfig):
    """A quant config with W8A8 PTQ defaults, for use from Python."""

    recipe: str = "custom"
    method: str = "ptq"
    w_bits: Optional[int] = 8
    a_bits: Optional[int] = 8


@dataclass
class _Plan:
    """What one layer gets, after type/name rules, the first/last policy and overrides."""

    w_bits: int | None
    a_bits: int | None
    reason: str = ""


def _selected_types(names: Iterable[str]) -> set[type[nn.Module]]:
    known = {t.__name__: t for t in QUANT_MODULES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GenqError(f"quant.layers has unknown layer type {unknown[0]!r}; accepted: "
                        f"{', '.join(sorted(known))}.")
    return {known[n] for n in names}


def _check_patterns(config: Any, names: list[str]) -> None:
    keyed = [("quant.include", p) for p in config.include] + \
            [("quant.exclude", p) for p in config.exclude] + \
            [("quant.overrides.pattern", o.pattern) for o in config.overrides]
    for key, pattern in keyed:
        if not any(fnmatchcase(n, pattern) for n in names):
            examples = ", ".join(n for n in names[:4])
            raise GenqError(f"{key} pattern {pattern!r} matches no module; names look like: {examples}.")


def _plan(name: str, index: int, count: int, config: Any) -> _Plan | str:
    """The bits for layer ``name`` (the ``index``-th of ``count`` selected), or why it is skipped."""
    if config.include and not any(fnmatchcase(name, p) for p in config.include):
        return "not matched by quant.include"
    for p in config.exclude:
        if fnmatchcase(name, p):
            return f"excluded by quant.exclude {p!r}"
    plan = _Plan(config.w_bits, config.a_bits)
    edge = "first" if index == 0 else "last" if index == count - 1 else None
    if edge and config.first_last == "fp":
        return f"{edge} layer kept in FP (quant.first_last=fp)"
    if edge and config.first_last == "int8":
        plan = _Plan(8 if plan.w_bits else None, 8 if plan.a_bits else None,
                     f"{edge} layer at 8 bits (quant.first_last=int8)")
    for o in config.overrides:
        if fnmatchcase(name, o.pattern):
            if o.keep_fp:
                return f"kept in FP by quant.overrides {o.pattern!r}"
            plan = _Plan(o.w_bits if o.w_bits is not None else plan.w_bits,
                         o.a_bits if o.a_bits is not None else plan.a_bits,
                         f"bits from quant.overrides {o.pattern!r}")
    if plan.w_bits is None and plan.a_bits is None:
        return "no bits set for this layer"
    return plan


def _weight_granularity(config: Any, mod: nn.Module, name: str, out_axis: int) -> Granularity:
    if config.granularity == "per_tensor":
        return PerTensor()
    if config.granularity == "per_channel":
        return PerChannel(out_axis)
    in_axis = _IN_AXIS[type(mod)]
    size = mod.weight.shape[in_axis]
    if size % config.group_size:
        raise GenqError(f"quant.group_size={config.group_size} does not divide the {size} input "
                        f"channels of {name}; accepted: a divisor of {size}, or another granularity.")
    return PerGroup(config.group_size, in_axis)


def _observer_options(config: Any) -> dict[str, Any]:
    return {"percentile": config.percentile, "averaging_constant": config.ema_averaging,
            "grid": config.mse_grid, "seed": getattr(config, "seed", 0)}


def _activation_quantizer(config: Any, bits: int, name: str, token_axis: int | None,
                          symmetric: bool | None = None) -> FakeQuantizer:
    symmetric = config.a_symmetric if symmetric is None else symmetric
    if config.a_dynamic:
        axis = token_axis if config.a_granularity == "per_token" else None
        return FakeQuantizer(bits, symmetric, PerTensor(), name=name, dynamic=True, token_axis=axis)
    aq = FakeQuantizer(bits, symmetric, PerTensor(), config.observer, name,
                       observer_options=_observer_options(config))
    aq.set_mode("observe")
    return aq


def _quantize_attention(model: nn.Module, config: Any, report: QuantReport) -> None:
    if config.attn_bits is None and config.softmax_bits is None:
        return
    found = False
    for name, mod in model.named_modules():
        if not is_diffusers_attention(mod):
            continue
        found = True
        q = k = v = probs = None
        if config.attn_bits is not None:
            q, k, v = (_activation_quantizer(config, config.attn_bits, f"{name}.{part}", -1)
                       for part in ("query", "key", "value"))
        if config.softmax_bits is not None:   # probabilities lie in [0, 1]: unsigned
            probs = _activation_quantizer(config, config.softmax_bits, f"{name}.softmax", -1, False)
        mod.set_processor(QuantAttnProcessor(q, k, v, probs))
        report.layers.append(LayerReport(
            f"{name}.matmuls", "AttentionMatmul", "quantized",
            activation=f"QK^T: {q.describe() if q else 'fp'}; softmax.V: "
                       f"{probs.describe() if probs else 'fp'} x {v.describe() if v else 'fp'}"))
    if not found:
        raise GenqError("quant.attn_bits/quant.softmax_bits are set but the model has no diffusers "
                        "attention module; accepted: null for models without attention.")


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


def quantize_(model: nn.Module, config: Any = None, calib: Calibration = None) -> QuantReport:
    """Quantize ``model`` in place following ``config`` (a QuantRecipe or a ``quant`` config).

    ``calib`` feeds the FP-equivalent model during calibration: a callable taking the model,
    or an iterable of inputs (a tensor, a tuple of positional inputs, or a dict of keyword
    inputs). It is required when activations are quantized with static scales.
    """
    config = QuantRecipe() if config is None else config
    validate_quant(config)
    types = _selected_types(config.layers)
    names = [n for n, _ in model.named_modules() if n]
    _check_patterns(config, names)
    static = not config.a_dynamic and any(b is not None for b in (
        config.a_bits, config.attn_bits, config.softmax_bits, *(o.a_bits for o in config.overrides)))
    if static and calib is None:
        raise GenqError("static activation quantization (quant.a_bits, quant.attn_bits or "
                        "quant.softmax_bits) needs calibration data: pass calib=..., set "
                        "quant.a_dynamic=true, or leave activations in FP.")

    candidates = [(n, m) for n, m in model.named_modules() if type(m) in QUANT_MODULES and type(m) in types]
    if any(n == "" for n, _ in candidates):
        raise GenqError("quantize_ needs a model that contains layers, not a single layer; "
                        "wrap it in nn.Sequential.")
    index = {n: i for i, (n, _) in enumerate(candidates)}
    report = QuantReport()
    swaps: list[tuple[str, nn.Module]] = []
    for name, mod in model.named_modules():
        if name in index:
            plan = _plan(name, index[name], len(candidates), config)
            if isinstance(plan, str):
                report.layers.append(LayerReport(name, type(mod).__name__, "skipped", reason=plan))
                continue
            qcls, out_axis = QUANT_MODULES[type(mod)]
            wq = aq = None
            if plan.w_bits is not None:
                wq = FakeQuantizer(plan.w_bits, config.w_symmetric,
                                   _weight_granularity(config, mod, name, out_axis), config.w_observer,
                                   f"{name}.weight", observer_options=_observer_options(config))
            if plan.a_bits is not None:
                aq = _activation_quantizer(config, plan.a_bits, f"{name}.input",
                                           -1 if isinstance(mod, nn.Linear) else 1)
            swaps.append((name, qcls.from_float(mod, wq, aq)))
            report.layers.append(LayerReport(name, type(mod).__name__, "quantized",
                                             wq.describe() if wq else None,
                                             aq.describe() if aq else None, plan.reason))
        elif any(True for _ in mod.parameters(recurse=False)):
            reason = ("layer type not selected by quant.layers" if type(mod) in QUANT_MODULES
                      else f"{type(mod).__name__} has no quantized implementation; kept in FP")
            report.layers.append(LayerReport(name, type(mod).__name__, "skipped", reason=reason))
    for name, qmod in swaps:   # weights quantized only once every check above has passed
        if qmod.weight_quantizer is not None:
            qmod.weight_quantizer.calibrate_from(qmod.weight)
        model.set_submodule(name, qmod)
    _quantize_attention(model, config, report)

    if static:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            run_calibration(model, calib)
        for m in model.modules():
            if isinstance(m, FakeQuantizer) and m.mode == "observe":
                m.freeze()
        model.train(was_training)
    return report

