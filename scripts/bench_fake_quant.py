"""Benchmark: cost of simulated (fake-quant) sampling relative to FP sampling.

Users of existing diffusion-quantization repos report fake quantization running ~3x
slower than FP; genq's target is at most 1.5x for W8A8 on both embedded models. Both
models are timed in this process (warm-up, then the median of --repeats), on the same
noise, FP first. Prints one line per model and exits 1 if a model misses the target.

    .venv/bin/python scripts/bench_fake_quant.py [--recipe w8a8] [--batch 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

from genq.bench import device_name, time_call
from genq.config import compose_config
from genq.models import load_generator
from genq.quant import quantize_

TARGET = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="w8a8")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    print(f"device: {device_name()}; recipe {args.recipe}; batch {args.batch}; median of {args.repeats}")
    ok = True
    for model in ("dcgan_digits", "ddpm_digits"):
        cfg = compose_config(f"model={model}", f"quant={args.recipe}")
        fp = load_generator(cfg.model)
        q = fp.clone()
        quantize_(q.network, cfg.quant, calib=fp.calibration_inputs(
            fp.make_noise(cfg.quant.calib_samples, 1), cfg.quant.calib_batch_size))
        noise = fp.make_noise(args.batch, 0)
        t_fp = time_call(lambda: fp.sample(noise, args.batch), args.batch, 2, args.repeats)
        t_q = time_call(lambda: q.sample(noise, args.batch), args.batch, 2, args.repeats)
        ratio = t_q.median_s / t_fp.median_s
        ok &= ratio <= TARGET
        print(f"{model:14s} FP {t_fp.ms_per_image:8.3f} ms/img   simulated {t_q.ms_per_image:8.3f} ms/img"
              f"   ratio {ratio:.2f}x  ({'ok' if ratio <= TARGET else 'over'} target {TARGET}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
