"""The record's ``speed`` section: FP and quantized sampling timed in the same process."""

from __future__ import annotations

from typing import Any

import torch

from genq.bench.latency import device_name, time_call
from genq.bench.size import model_bytes, packed_model_bytes
from genq.models.base import GeneratorAdapter


def measure_speed(fp: GeneratorAdapter, qmodel: GeneratorAdapter | None, b: Any,
                  noise: torch.Tensor, q: Any = None) -> dict[str, Any]:
    """Latency per image and model bytes of ``fp`` and (when given) ``qmodel`` under ``bench=b``."""
    bench_noise = noise[:b.batch_size]
    t_fp = time_call(lambda: fp.sample(bench_noise, b.batch_size), len(bench_noise), b.warmup, b.repeats)
    speed: dict[str, Any] = {"backend": "eager-fp32", "device": device_name(),
                             "latency_ms_per_image_fp": t_fp.ms_per_image,
                             "latency_ms_per_image": t_fp.ms_per_image,
                             "model_bytes_fp": model_bytes(fp.network),
                             "model_bytes": model_bytes(fp.network),
                             "timing": f"median of {b.repeats} repeats after {b.warmup} warm-up, "
                                       f"batch {len(bench_noise)}, FP timed in the same process"}
    if qmodel is not None:
        t_q = time_call(lambda: qmodel.sample(bench_noise, b.batch_size), len(bench_noise), b.warmup,
                        b.repeats)
        speed.update({"backend": b.backend, "latency_ms_per_image": t_q.ms_per_image,
                      # A fake-quant timing is an overhead, never a speedup (DESIGN.md section 4).
                      "simulated_overhead_vs_fp": t_q.median_s / t_fp.median_s,
                      "model_bytes": packed_model_bytes(qmodel.network),
                      "model_bytes_method": "quantized weights counted packed at w_bits (computed)"})
    return speed
