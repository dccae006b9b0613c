"""Benchmark genq's standard FID path against torchmetrics on the same images.

    .venv/bin/python scripts/bench_metrics.py [--n 32] [--batch-size 16] [--threads 2] [--repeats 3]

Prints, for the same digits images (16x16 grey, [-1, 1]):
- Inception feature throughput: genq (torch-fidelity's extractor, one pass for pool features
  and logits) vs torchmetrics' ``FrechetInceptionDistance.update`` (its ``NoTrainInceptionV3``,
  with torch-fidelity's resize, ``antialias=False``);
- FID from those features: genq (torch-fidelity formula; with fewer samples than dimensions
  through the equivalent small Gram matrix) vs torchmetrics ``compute``, values and seconds,
  plus torchmetrics' default (``antialias=True``) and torch-fidelity's own function;
- reference statistics: first (uncached) vs second (cached) call.

Uses the real Inception weights when they are in the torch hub cache; otherwise random
values in the real architecture (timings are the same; the FID values then mean nothing
beyond genq == torchmetrics).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import unittest.mock as mock
from pathlib import Path

import torch


def _cpu_name() -> str:
    from genq.bench.isa import cpu_summary

    return cpu_summary()


def _random_inception(path: Path) -> None:
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(0)
    with mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None), \
            mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="images per set (two sets: 'real' and 'fake')")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing repeats (median)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from genq.data import load_digits
    from genq.metrics.weights import INCEPTION_FILE, hub_checkpoint

    work = Path(tempfile.mkdtemp(prefix="genq-bench-"))
    os.environ["GENQ_CACHE"] = str(work / "cache")
    weights = hub_checkpoint(INCEPTION_FILE)
    kind = "real torch-fidelity weights"
    if not weights.is_file():
        os.environ["TORCH_HOME"] = str(work / "torch-home")
        weights = hub_checkpoint(INCEPTION_FILE)
        _random_inception(weights)
        kind = "random values in the real architecture (offline)"

    from torchmetrics.image.fid import FrechetInceptionDistance

    from genq.metrics.distribution import fidelity_fid, fidelity_statistics
    from genq.metrics.features import extract_all
    from genq.metrics.inception import InceptionFeatures, to_uint8_rgb
    from genq.metrics.reference import reference_stats

    images = load_digits("train", 16, 0.2, 0).images
    real, fake = images[:args.n], images[args.n:2 * args.n]
    print(f"CPU: {_cpu_name()}, torch threads: {torch.get_num_threads()}, os.cpu_count: {os.cpu_count()}")
    print(f"Inception weights: {kind}; images: 2 x {args.n} digits 16x16 grey; batch {args.batch_size}\n")

    ours = InceptionFeatures(weights)
    f_real, f_fake = (extract_all(ours, x, args.batch_size, logits=True)["features"] for x in (real, fake))
    stats = [fidelity_statistics(f) for f in (f_real, f_fake)]
    fid_ours, t_fid_ours = _timed(lambda: fidelity_fid(stats[0], stats[1], f_fake))

    def torchmetrics_fid(antialias: bool) -> tuple[FrechetInceptionDistance, float, float]:
        metric = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(weights),
                                          antialias=antialias)
        for x, is_real in ((real, True), (fake, False)):
            for chunk in x.split(args.batch_size):
                metric.update(to_uint8_rgb(chunk), real=is_real)
        value, t_compute = _timed(lambda: float(metric.compute()))
        return metric, value, t_compute

    metric, fid_tm, t_fid_tm = torchmetrics_fid(antialias=False)
    _, fid_tm_aa, _ = torchmetrics_fid(antialias=True)

    # Throughput: the same images through both paths, interleaved (the CPU is shared), median.
    t_ours, t_tm = [], []
    for _ in range(args.repeats):
        t_ours.append(_timed(lambda: extract_all(ours, real, args.batch_size, logits=True))[1])
        t_tm.append(_timed(lambda: [metric.update(to_uint8_rgb(c), real=True)
                                    for c in real.split(args.batch_size)])[1])
    median = lambda ts: sorted(ts)[len(ts) // 2]   # noqa: E731

    print(f"{'':46s} {'genq':>12s} {'torchmetrics':>14s}")
    print(f"{'Inception features [images/s], median of ' + str(args.repeats):46s} "
          f"{args.n / median(t_ours):12.2f} {args.n / median(t_tm):14.2f}")
    print(f"{'  (all repeats, s)':46s} {' '.join(f'{t:.1f}' for t in t_ours):>12s} "
          f"{' '.join(f'{t:.1f}' for t in t_tm):>14s}")
    print(f"{'FID from 2 x ' + str(args.n) + ' features [s]':46s} {t_fid_ours:12.2f} {t_fid_tm:14.2f}")
    print(f"{'FID value (torch-fidelity TF1 resize)':46s} {fid_ours:12.6g} {fid_tm:14.6g}")
    print(f"{'FID value, torchmetrics default antialias=True':46s} {'':12s} {fid_tm_aa:14.6g}")
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    tf_value, t_tf = _timed(lambda: fid_statistics_to_metric(stats[0], stats[1], False)["frechet_inception_distance"])
    print(f"{'FID value, torch-fidelity fid_statistics_to_metric':46s} {tf_value:12.6g}   ({t_tf:.2f} s)")

    first = reference_stats(ours, real, {"bench": "digits"}, args.batch_size)
    second = reference_stats(ours, real, {"bench": "digits"}, args.batch_size)
    print(f"\nreference statistics of {args.n} images: {first.source} {first.seconds:.2f} s, "
          f"then {second.source} {second.seconds:.3f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
