"""The record's ``speed`` section: FP and quantized sampling timed in the same process.

``bench=simulated`` (backend ``fake-quant``) times the simulated model: an overhead, never a
speedup (DESIGN.md section 4). A real backend (``bench=cpu_int8``, ``cpu_bf16``, ``cuda_*``)
is timed round-robin with FP32 eager and the configured FP baselines, and the section adds
the kernel-coverage table, kernel calls per forward, model bytes, peak memory, and the
agreement of the real outputs with the simulated and FP ones.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
from typing import Any

import torch

from genq.bench.latency import device_name, time_call
from genq.bench.size import model_bytes, packed_model_bytes
from genq.errors import GenqError
from genq.models.base import GeneratorAdapter


MODEL_BYTES_METHOD = {
    "cpu_int8": "bytes of every tensor the deployed graph holds (int8 weights, scales, FP params)",
    "cpu_w4a16": "bytes of the packed int4 weights, their scales and zeros, and the FP parameters left",
    "cpu_w4a8": "bytes of the packed int4 weights (scales and bias inside) and the FP parameters left",
}


def measure_speed(fp: GeneratorAdapter, qmodel: GeneratorAdapter | None, b: Any,
                  noise: torch.Tensor, q: Any = None) -> dict[str, Any]:
    """Latency per image and model bytes of ``fp`` and (when given) ``qmodel`` under ``bench=b``."""
    from genq.bench.allocator import allocator_state
    from genq.quant.kernels import native_status

    if getattr(b, "backend", "fake-quant") != "fake-quant":
        from genq.config.bench import check_bench

        check_bench(b)
        with _threads(getattr(b, "threads", None)):
            return measure_real(fp, qmodel, b, noise)
    allocator = allocator_state()       # a simulated timing never pins
    bench_noise = noise[:b.batch_size]
    t_fp = time_call(lambda: fp.sample(bench_noise, b.batch_size), len(bench_noise), b.warmup, b.repeats)
    speed: dict[str, Any] = {"backend": "eager-fp32", "device": device_name(),
                             "threads": torch.get_num_threads(),
                             "latency_ms_per_image_fp": t_fp.ms_per_image,
                             "latency_ms_per_image": t_fp.ms_per_image,
                             "model_bytes_fp": model_bytes(fp.network),
                             "model_bytes": model_bytes(fp.network),
                             "timing": f"median of {b.repeats} repeats after {b.warmup} warm-up, "
                                       f"batch {len(bench_noise)}, FP timed in the same process",
                             "allocator": allocator}
    if qmodel is not None:
        t_q = time_call(lambda: qmodel.sample(bench_noise, b.batch_size), len(bench_noise), b.warmup,
                        b.repeats)
        speed.update({"backend": b.backend, "latency_ms_per_image": t_q.ms_per_image,
                      # A fake-quant timing is an overhead, never a speedup (DESIGN.md section 4).
                      "simulated_overhead_vs_fp": t_q.median_s / t_fp.median_s,
                      # how the fake quantization ran: genq's fused C kernels or eager PyTorch
                      # (same bits either way; only this timing differs)
                      "simulation_kernels": native_status(),
                      "model_bytes": packed_model_bytes(qmodel.network),
                      "model_bytes_method": "quantized weights counted packed at w_bits (computed)"})
    return speed


@contextlib.contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_real(fp: GeneratorAdapter, qmodel: GeneratorAdapter | None, b: Any,
                 noise: torch.Tensor) -> dict[str, Any]:
    """Time ``b.backend`` against FP32 eager and ``b.baselines``, interleaved, on one batch.

    Every variant builds, compiles and runs under the backend's Inductor settings, set for
    this measurement only (:mod:`genq.bench.backends.inductor`)."""
    from genq.bench.backends.inductor import for_backend, inductor_settings

    with inductor_settings(for_backend(b.backend)):
        return _measure_real(fp, qmodel, b, noise)


def _measure_real(fp: GeneratorAdapter, qmodel: GeneratorAdapter | None, b: Any,
                  noise: torch.Tensor) -> dict[str, Any]:
    from genq.bench.backends import CUDA_BACKENDS
    from genq.bench.backends.agreement import agreement
    from genq.bench.backends.coverage import as_dicts, kernel_counts, summarize
    from genq.bench.backends.cpu_int8 import FLOAT_OPS, INT8_OPS
    from genq.bench.backends.real import DETAIL, build_backend, build_baseline, variant_name
    from genq.bench.backends.runner import PeakRSS, returns_sample_object, time_interleaved
    from genq.bench.allocator import pinned_allocator
    from genq.quant.modules import drop_weight_caches

    backend = b.backend
    if backend == "cpu_int8" and qmodel is None:
        raise GenqError("bench=cpu_int8 runs a quantized model, but quant=fp32 gives none; pick a "
                        "static int8 recipe, e.g. quant=w8a8 or quant=w4a8.")
    bench_noise = noise[:b.batch_size]
    n = len(bench_noise)
    example_args = fp.calibration_inputs(bench_noise, n)[0]
    wrap = returns_sample_object(fp.network, example_args)
    main = variant_name(backend, b)
    on_cuda = backend in CUDA_BACKENDS

    images, peak = {}, {}
    if qmodel is not None:      # first, so that its weight caches can be freed while the variants build
        with torch.inference_mode():
            images["simulated"] = qmodel.sample(bench_noise, n)
        drop_weight_caches(qmodel.network)     # a full-size model's cache is as large as its weights
    built = build_backend(backend, fp, qmodel, b, example_args, wrap)   # a refusal comes first
    if qmodel is not None:
        drop_weight_caches(qmodel.network)     # filled again by the int8 lowering
    variants = {}
    run_noise = bench_noise
    if on_cuda:
        # Everything on the same GPU, the sampler loop included (the noise goes there): the FP32
        # reference (a copy: fp stays on the CPU) and any other CUDA backend named in baselines.
        import copy

        from genq.bench.backends.float_baselines import fp32_fn
        from genq.bench.backends.real import Variant
        from genq.bench.backends.runner import with_backend

        fn = fp32_fn(copy.deepcopy(fp.network).cuda().eval())
        variants["fp32_eager"] = Variant(with_backend(fp, fn, wrap, "cuda"), fn)
        for name in dict.fromkeys(b.baselines):
            if name not in ("fp32_eager", main):
                variants[name] = build_backend(name, fp, qmodel, b, example_args, wrap)
        run_noise = bench_noise.cuda()
    else:
        for name in dict.fromkeys(["fp32_eager", *b.baselines]):
            if name != main:
                variants[name] = build_baseline(name, fp, b, example_args, wrap, qmodel)
    variants[main] = built
    if qmodel is not None:
        drop_weight_caches(qmodel.network)     # a full-size model's cache is as large as its weights

    with torch.inference_mode():
        for name, v in variants.items():
            if name != "fp32_eager":
                print(f"genq: first sampling call of {name} (outputs for the agreement)", file=sys.stderr, flush=True)
            if on_cuda:
                torch.cuda.reset_peak_memory_stats()
                images[name] = v.adapter.sample(run_noise, n).cpu()
                peak[name] = torch.cuda.max_memory_allocated()
            else:
                with PeakRSS() as rss:
                    images[name] = v.adapter.sample(run_noise, n)
                peak[name] = rss.growth

    load_before = os.getloadavg()
    # glibc's malloc pinned while timing only, as it was afterwards (genq.bench.allocator); not
    # while the variants build: pinned, the freed copies of a full-size model's weights stay in
    # the heap (DiT-XL/2 was OOM-killed at 22.5 GB of a 24 GB machine)
    with pinned_allocator(getattr(b, "pin_allocator", True)) as allocator:
        times = time_interleaved({k: (lambda v=v: v.adapter.sample(run_noise, n)) for k, v in variants.items()},
                                 b.warmup, b.repeats, torch.cuda.synchronize if on_cuda else None)
    load_after = os.getloadavg()
    ms = {k: 1000.0 * statistics.median(t) / n for k, t in times.items()}
    fp_ms = ms["fp32_eager"]
    v = variants[main]
    speed: dict[str, Any] = {
        "backend": backend, "backend_detail": DETAIL[backend], "variant": main,
        "device": device_name(), "threads": torch.get_num_threads(),
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "latency_ms_per_image": ms[main], "latency_ms_per_image_fp": fp_ms,
        "speedup_vs_fp": fp_ms / ms[main],
        "latency_ms_per_image_by_backend": ms,
        "speedup_vs_fp_by_backend": {k: fp_ms / x for k, x in ms.items()},
        "throughput_images_per_s": 1000.0 / ms[main],
        "repeats_s": times,
        "peak_memory_bytes": peak,
        "peak_memory_method": ("torch.cuda.max_memory_allocated during one sampling call" if on_cuda else
                               "growth of the process RSS during the first sampling call (1 ms polling)"),
        "model_bytes_fp": model_bytes(fp.network),
        "model_bytes": v.model_bytes,
        "model_bytes_method": MODEL_BYTES_METHOD.get(backend, "FP32 weights (autocast casts at run time)")
                              if not (backend in ("cpu_bf16", "cpu_fp16") and b.compile)
                              else "the FP weights cast to the low dtype once",
        "build_s": {k: round(x.build_s, 2) for k, x in variants.items()},
        "coverage": summarize(v.coverage),
        "coverage_table": as_dicts(v.coverage),
        "notes": v.extra.get("notes", []),
        "allocator": allocator,
        "timing": f"{b.repeats} round-robin rounds over {list(variants)} after {b.warmup} warm-up call(s) "
                  f"each, median; batch {n}; whole sampler ({getattr(fp, 'num_inference_steps', 1)} "
                  f"network calls per image batch for diffusion); all in one process",
    }
    if on_cuda:
        speed["cuda_float_settings"] = {
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "note": "fp32_eager convolutions use TF32 tensor cores where cudnn_allow_tf32 is true (torch's default)"}
        speed["notes"] = speed["notes"] + ["the sampler loop runs on the GPU; images are copied back once per batch"]
    if backend == "cpu_int8":
        speed["conv_zero_point"] = b.conv_zero_point        # genq.bench.backends.conv_zero_point
    if b.kernel_profile and backend == "cpu_int8":
        speed["kernel_calls_per_forward"] = kernel_counts(lambda: v.fn(*example_args), INT8_OPS, FLOAT_OPS)
    if b.agreement:
        speed["agreement"] = agreement(images, "fp32_eager", "simulated" if qmodel is not None else None)
    return speed
