"""Benchmark: simulated (fake-quant) sampling time of the digits DDPM per number format,
against FP and int8 fake quantization (the engine's budget: every format <= 1.5x FP).

All variants live in one process and are timed round-robin (one sampling call of each per
round, after one warm-up call each), so drifts of a shared machine hit all alike; the table
gives the median over rounds. ``conv_in`` (1 input channel, which no 32/16-block format can
block) stays FP in every variant, so all quantize the same layers. W8A8 for the 8-bit
formats, W4A4 for the 4-bit ones; activation scales are static min-max for integers and
minifloats, per block at run time for MX/NVFP4. Minifloat and block fake quantization run
in genq's fused C kernels (genq/quant/kernels) where they build; ``--eager`` times the
PyTorch path they replace (bit-identical results).

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python scripts/bench_formats.py [--batch 16] [--rounds 5] [--steps 10] [--eager]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

EAGER = "--eager" in sys.argv
if EAGER:                      # before genq loads its kernels
    os.environ["GENQ_NATIVE"] = "0"

from genq.bench import device_name  # noqa: E402
from genq.config import compose_config  # noqa: E402
from genq.models import load_generator  # noqa: E402
from genq.quant import quantize_  # noqa: E402
from genq.quant.kernels import native_status  # noqa: E402

TARGET = 1.5
SAME_LAYERS = ["quant.exclude=[conv_in]"]
VARIANTS: dict[str, list[str] | None] = {
    "fp32": None,
    "int8 W8A8": ["quant=w8a8"],
    "fp8_e4m3 W8A8": ["quant=w8a8", "quant.w_format=fp8_e4m3", "quant.a_format=fp8_e4m3"],
    "mxfp8_e4m3 W8A8": ["quant=w8a8", "quant.w_format=mxfp8_e4m3", "quant.a_format=mxfp8_e4m3"],
    "int4 per-channel W4A4": ["quant=w4a4"],
    "int4 g32 W4A4": ["quant=w4a4", "quant.granularity=per_group", "quant.group_size=32"],
    "fp4_e2m1 W4A4": ["quant=w4a4", "quant.w_format=fp4_e2m1", "quant.a_format=fp4_e2m1"],
    "mxfp4 W4A4": ["quant=w4a4", "quant.w_format=mxfp4", "quant.a_format=mxfp4"],
    "nvfp4 W4A4": ["quant=w4a4", "quant.w_format=nvfp4", "quant.a_format=nvfp4"],
}


def build(overrides: list[str] | None, steps: int):
    cfg = compose_config("model=ddpm_digits", *(overrides or ["quant=fp32"]), *SAME_LAYERS,
                         f"model.num_inference_steps={steps}")
    fp = load_generator(cfg.model)
    if overrides is None:
        return fp
    q = fp.clone()
    quantize_(q.network, cfg.quant, calib=fp.calibration_inputs(
        fp.make_noise(cfg.quant.calib_samples, 1), cfg.quant.calib_batch_size))
    return q


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="sampling steps (the model's own: 25)")
    parser.add_argument("--eager", action="store_true", help="no native kernels (GENQ_NATIVE=0)")
    args = parser.parse_args()
    models = {name: build(o, args.steps) for name, o in VARIANTS.items()}
    noise = models["fp32"].make_noise(args.batch, 0)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for name, m in models.items():                 # warm-up (caches the fake-quantized weights)
            m.sample(noise, args.batch)
        for _ in range(args.rounds):
            for name, m in models.items():
                start = time.perf_counter()
                m.sample(noise, args.batch)
                times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"digits DDPM, {device_name()}, {torch.get_num_threads()} thread(s); batch {args.batch}, "
          f"{args.steps} steps; median of {args.rounds} round-robin rounds; conv_in FP in all")
    print(f"minifloat and block fake quantization: {native_status()}")
    print(f"{'format':24s} {'ms/img':>8s} {'vs FP':>7s} {'vs int8':>8s}  budget {TARGET}x FP")
    ok = True
    for name, t in med.items():
        ratio = t / med["fp32"]
        ok &= ratio <= TARGET
        print(f"{name:24s} {1000 * t / args.batch:8.2f} {ratio:6.2f}x {t / med['int8 W8A8']:7.2f}x  "
              f"{'ok' if ratio <= TARGET else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
