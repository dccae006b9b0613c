"""From an FP adapter and a ``quant`` config to a quantized adapter, whatever the method:
the one entry point ``run_experiment`` calls. This module only dispatches (PTQ in
:mod:`genq.quant.ptq_pipeline`, QAT in :mod:`genq.qat.pipeline`, the pipeline components
besides the denoiser in :mod:`genq.quant.components`); none of them imports it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.quant import components as comp
from genq.quant.outcome import QuantOutcome
from genq.quant.report import QuantReport

__all__ = ["QuantOutcome", "quantize_adapter"]


def _check_denoiser_fp(q: Any, names: list[str]) -> None:
    """Settings that act on the denoiser alone, refused when it stays FP."""
    c, r = q.calibration, q.reconstruction
    clashes = [(q.method == "qat", "quant.method=qat trains the denoiser"),
               (bool(getattr(q, "plan", None)), f"quant.plan={getattr(q, 'plan', None)!r} names the denoiser's layers"),
               (bool(getattr(q, "schedule", None)), f"quant.schedule={getattr(q, 'schedule', None)!r} schedules the denoiser"),
               (r.method != "none", f"quant.reconstruction.method={r.method!r} reconstructs the denoiser"),
               (bool(c.timestep_buckets), "quant.calibration.timestep_buckets applies to the denoiser"),
               (bool(c.shortcut_split), "quant.calibration.shortcut_split applies to the denoiser"),
               (bool(list(q.include) or list(q.exclude) or list(q.overrides)),
                "quant.include / exclude / overrides name the denoiser's layers")]
    for bad, why in clashes:
        if bad:
            raise GenqError(f"quant.components={names} leaves the denoiser in FP, but {why}; "
                            "accepted: add denoiser to quant.components, or drop that setting.")


def quantize_adapter(fp: GeneratorAdapter, q: Any, seed: int,
                     run_dir: str | Path | None = None, validated: bool = False) -> QuantOutcome | None:
    """Quantize a clone of ``fp`` as ``q.method`` says (None for ``fp``); ``fp`` is untouched.
    ``q.components`` (null: the denoiser alone) says which pipeline components are quantized;
    the outcome's ``info["components"]`` records them.

    ``validated``: the caller ran ``genq.config.validate`` on the whole config (as
    ``run_experiment`` does), so the method's settings are not checked a second time."""
    if q.method == "fp":
        return None
    names = comp.resolve(fp, getattr(q, "components", None))
    role, extras = comp.network_role(fp), [n for n in names if n in comp.EXTRA]
    if role not in names:
        _check_denoiser_fp(q, names)
        outcome = QuantOutcome(fp.clone(), QuantReport(), {"calibration": None, "reconstruction": None})
    elif q.method == "ptq" and getattr(q, "auto", False):    # quant=auto: choose, write, run
        from genq.quant.allocator.auto import resolve_auto
        from genq.quant.ptq_pipeline import run_ptq

        chosen, allocator = resolve_auto(q, run_dir)
        outcome = run_ptq(fp, chosen, seed, validated)
        outcome.info["allocator"] = allocator
    elif q.method == "ptq":
        from genq.quant.ptq_pipeline import run_ptq   # here: QAT's stack (accelerate) loads only for QAT

        outcome = run_ptq(fp, q, seed, validated)
    else:
        from genq.qat.pipeline import run_qat

        outcome = run_qat(fp, q, seed, run_dir, validated)
    if extras:
        outcome.info["component_coverage"] = comp.quantize_components(
            fp, outcome.model, extras, q, seed, outcome.report)
        outcome.info["coverage"] = outcome.report.counts()
    outcome.info["components"] = comp.summary(fp, names)
    return outcome
