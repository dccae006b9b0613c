"""What the uncertainty metrics cost per record (issue 15): the scoring of one run
(``genq.metrics.score_run``) with and without the bootstrap intervals and
precision/recall/density/coverage, on the digits metrics at the studies' n; and, for the
standard preset's 2048-d Inception features, the cost of one bootstrap resample.

    .venv/bin/python scripts/bench_uncertainty.py [--n 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch


def _cpu() -> str:
    from genq.bench import device_name
    from genq.bench.isa import cpu_info

    return f"{device_name()} ({', '.join(cpu_info()['isa']) or 'no AVX2'})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    os.environ["GENQ_CACHE"] = tempfile.mkdtemp(prefix="genq-bench-")
    from genq.config import compose_config
    from genq.data import load_digits
    from genq.metrics import bootstrap as boot
    from genq.metrics import score_run

    real = load_digits("train", 16, 0.2, 0).images
    g = torch.Generator().manual_seed(0)
    fp = real[torch.randint(len(real), (args.n,), generator=g)]
    q = (fp + 0.1 * torch.randn(fp.shape, generator=g)).clamp(-1, 1)
    print(f"CPU: {_cpu()}, torch threads {torch.get_num_threads()}; digits metrics, n = {args.n}, "
          f"{len(real)} reference images; median of {args.repeats}")
    variants = {"before (no intervals, no prdc)": ("metrics.bootstrap=0", "metrics.compute_pr=false"),
                "+ precision/recall/density/coverage": ("metrics.bootstrap=0",),
                "+ bootstrap intervals (200 resamples)": ("metrics.compute_pr=false",),
                "both (the default)": ()}
    score_run(compose_config().metrics, real, fp, q, seed=0, data_key={"bench": 1})   # warm caches
    base = None
    for name, overrides in variants.items():
        mc = compose_config(f"metrics.n_samples={args.n}", *overrides).metrics
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            score_run(mc, real, fp, q, seed=0, data_key={"bench": 1})
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        base = base or t
        print(f"  {name:40s} {t:6.2f} s  (+{t - base:5.2f} s)")

    d, n, resamples = 2048, 1000, 5
    f_real, f_gen = torch.randn(2 * n, d), torch.randn(n, d)
    counts = boot.resample_counts(n, resamples, 0)
    start = time.perf_counter()
    boot.fid_replicates(f_real, f_gen, counts)
    per = (time.perf_counter() - start) / resamples
    print(f"2048-d features, n = {n}: {per:.2f} s per FID resample (incl. the reference square root "
          f"once): metrics=standard's 50 resamples x 3 FIDs ~ {3 * 50 * per:.0f} s per record")


if __name__ == "__main__":
    main()
