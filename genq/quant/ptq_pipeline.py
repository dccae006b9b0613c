"""Post-training quantization of an adapter: draw calibration inputs from the FP model,
swap and calibrate the layers (:func:`genq.quant.quantize_`)."""

from __future__ import annotations

import time
from typing import Any

from genq.models.base import GeneratorAdapter
from genq.quant.api import quantize_
from genq.quant.pipeline import QuantOutcome


def quantizes_activations_statically(q: Any) -> bool:
    return not q.a_dynamic and any(getattr(q, k) is not None for k in ("a_bits", "attn_bits", "softmax_bits"))


def run_ptq(fp: GeneratorAdapter, q: Any, seed: int) -> QuantOutcome:
    qmodel = fp.clone()
    calib_noise = fp.make_noise(q.calib_samples, seed + 1)   # disjoint from the eval noise
    static = quantizes_activations_statically(q)
    t0 = time.perf_counter()
    calib = fp.calibration_inputs(calib_noise, q.calib_batch_size) if static else None
    report = quantize_(qmodel.network, q, calib=calib)
    info = {"calibration": ("fp_trajectory" if fp.family == "diffusion" else "latents") if static else None,
            "calib_samples": q.calib_samples if static else 0,
            "calib_batches": len(calib) if static else 0,
            "calibration_s": round(time.perf_counter() - t0, 3),
            "coverage": report.counts()}
    return QuantOutcome(qmodel, report, info)
