"""From an FP adapter and a ``quant`` config to a quantized adapter, whatever the method:
the one entry point ``run_experiment`` calls. This module only dispatches (PTQ in
:mod:`genq.quant.ptq_pipeline`, QAT in :mod:`genq.qat.pipeline`); neither imports it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genq.models.base import GeneratorAdapter
from genq.quant.outcome import QuantOutcome

__all__ = ["QuantOutcome", "quantize_adapter"]


def quantize_adapter(fp: GeneratorAdapter, q: Any, seed: int,
                     run_dir: str | Path | None = None, validated: bool = False) -> QuantOutcome | None:
    """Quantize a clone of ``fp`` as ``q.method`` says (None for ``fp``); ``fp`` is untouched.

    ``validated``: the caller ran ``genq.config.validate`` on the whole config (as
    ``run_experiment`` does), so the method's settings are not checked a second time."""
    if q.method == "fp":
        return None
    if q.method == "ptq" and getattr(q, "auto", False):    # quant=auto: choose, write, run
        from genq.quant.allocator.auto import resolve_auto
        from genq.quant.ptq_pipeline import run_ptq

        chosen, allocator = resolve_auto(q, run_dir)
        outcome = run_ptq(fp, chosen, seed, validated)
        outcome.info["allocator"] = allocator
        return outcome
    if q.method == "ptq":
        from genq.quant.ptq_pipeline import run_ptq   # here: QAT's stack (accelerate) loads only for QAT

        return run_ptq(fp, q, seed, validated)
    from genq.qat.pipeline import run_qat

    return run_qat(fp, q, seed, run_dir, validated)
