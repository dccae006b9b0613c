"""``quantize_(model, config, calib=...)``: swap the selected layers of ``model`` in place
for fake-quantized ones, calibrate their activation quantizers on ``calib`` and freeze.
In the spirit of torchao's ``quantize_``, it returns a report of what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union

import torch
from torch import nn

from genq.config import validate_quant
from genq.errors import GenqError
from genq.quant.granularity import PerChannel, PerTensor
from genq.quant.modules import QUANT_MODULES
from genq.quant.quantizer import FakeQuantizer
from genq.quant.report import LayerReport, QuantReport

Calibration = Union[Callable[[nn.Module], Any], Iterable[Any], None]


@dataclass
class QuantRecipe:
    """What to quantize and how (the Python-side twin of the ``quant`` config group)."""

    w_bits: int | None = 8
    a_bits: int | None = 8
    granularity: str = "per_channel"
    w_symmetric: bool = True
    a_symmetric: bool = False
    observer: str = "minmax"
    method: str = "ptq"
    calib_samples: int = 64
    layers: list[str] = field(default_factory=lambda: ["Linear", "Conv2d", "ConvTranspose2d"])


def _selected_types(names: Iterable[str]) -> set[type[nn.Module]]:
    known = {t.__name__: t for t in QUANT_MODULES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GenqError(f"quant.layers has unknown layer type {unknown[0]!r}; accepted: "
                        f"{', '.join(sorted(known))}.")
    return {known[n] for n in names}


def _run_calibration(model: nn.Module, calib: Calibration) -> None:
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
    inputs). It is required when activations are quantized (static scales).
    """
    config = QuantRecipe() if config is None else config
    validate_quant(config)
    types = _selected_types(config.layers)
    if config.a_bits is not None and calib is None:
        raise GenqError(f"quant.a_bits={config.a_bits} quantizes activations statically, which needs "
                        "calibration data: pass calib=... (or set quant.a_bits=null).")
    report = QuantReport()
    swaps: list[tuple[nn.Module, str, nn.Module]] = []
    for name, mod in model.named_modules():
        if type(mod) in QUANT_MODULES and type(mod) in types:
            qcls, out_axis = QUANT_MODULES[type(mod)]
            wq = aq = None
            if config.w_bits is not None:
                g = PerChannel(out_axis) if config.granularity == "per_channel" else PerTensor()
                wq = FakeQuantizer(config.w_bits, config.w_symmetric, g, "minmax", f"{name}.weight")
                wq.calibrate_from(mod.weight)
            if config.a_bits is not None:
                aq = FakeQuantizer(config.a_bits, config.a_symmetric, PerTensor(), config.observer,
                                   f"{name}.input")
                aq.set_mode("observe")
            qmod = qcls.from_float(mod, wq, aq)
            swaps.append((model, name, qmod))
            report.layers.append(LayerReport(name, type(mod).__name__, "quantized",
                                             wq.describe() if wq else None,
                                             aq.describe() if aq else None))
        elif any(True for _ in mod.parameters(recurse=False)):
            reason = ("layer type not selected by quant.layers" if type(mod) in QUANT_MODULES
                      else f"{type(mod).__name__} has no quantized implementation; kept in FP")
            report.layers.append(LayerReport(name, type(mod).__name__, "skipped", reason=reason))
    for root, name, qmod in swaps:
        if name == "":
            raise GenqError("quantize_ needs a model that contains layers, not a single layer; "
                            "wrap it in nn.Sequential.")
        root.set_submodule(name, qmod)
    if config.a_bits is not None:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            _run_calibration(model, calib)
        for m in model.modules():
            if isinstance(m, FakeQuantizer) and m.mode == "observe":
                m.freeze()
        model.train(was_training)
    return report
