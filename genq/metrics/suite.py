"""All the quality numbers of one run, from three image sets: real reference images, FP
samples and quantized samples generated from the same noise bank.

- fid / kid (+ is, precision, recall):  quantized samples vs real images (the evaluated model)
- fid_fp / kid_fp (+ is_fp, ...):       FP samples vs real images, measured in the same run
- qfid:                                 quantized vs FP samples (shift caused by quantization)
- lpips_vs_fp / psnr_vs_fp / ssim_vs_fp: paired distances of each quantized sample to its FP twin

When no quantized samples are given (method fp), the evaluated model is the FP one and the
"vs FP" metrics are absent, not zero. :func:`score_run` is the entry point (it reads the
metrics config).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genq.errors import GenqError
from genq.metrics.distribution import fid_from_features, kid_from_features
from genq.metrics.paired import feature_lpips, psnr


# --- score_run: every metric the metrics config asks for -------------------------------

_NETWORKS: dict[tuple, torch.nn.Module] = {}


def _cached(key: tuple, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Networks are built once per process (a sweep scores many runs with the same ones).
    ``key`` holds everything the built network depends on (name, weights file, device,
    settings), and a cached network is never changed afterwards: a different device or
    setting builds another one."""
    if key not in _NETWORKS:
        _NETWORKS[key] = build()
    return _NETWORKS[key]


def _stamp(path: Path) -> tuple:
    """The weights file as a cache key: path, size and modification time (a retrained or
    replaced file builds a new network)."""
    if not path.is_file():
        return str(path), None, None       # the loader names the missing file
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def _digits_features(name: str) -> torch.nn.Module:
    """The shipped digits classifier as a feature network (it stays on the CPU; the
    extractor moves the images to it)."""
    from genq.metrics.features import load_feature_extractor
    from genq.models.checkpoint import WEIGHTS_FILE
    from genq.models.registry import embedded_weights_dir

    return _cached(("classifier", name, _stamp(embedded_weights_dir(name) / WEIGHTS_FILE), "cpu"),
                   lambda: load_feature_extractor(name))


def load_metric_networks(metrics_cfg: Any, device: str = "cpu") -> tuple[torch.nn.Module, torch.nn.Module]:
    """(feature extractor, LPIPS network) for ``metrics_cfg``; raises GenqError for missing weights."""
    from genq.metrics.features import load_feature_extractor
    from genq.metrics.lpips import LPIPS
    from genq.metrics.weights import check_metric_weights

    mc = metrics_cfg
    paths = check_metric_weights(mc)
    if mc.feature_extractor == "inception":
        extractor = _cached(("inception", _stamp(Path(paths["inception"])), str(device)),
                            lambda: load_feature_extractor("inception", paths["inception"]).to(device))
    else:
        extractor = _digits_features(mc.feature_extractor)
    if mc.lpips_net == "digits_classifier":
        lpips = _digits_features("digits_classifier").classifier
    else:
        backbone = paths["lpips_backbone"]
        lpips = _cached(("lpips", mc.lpips_net, _stamp(Path(backbone)), str(device), mc.lpips_resize),
                        lambda: LPIPS(mc.lpips_net, backbone, resize=mc.lpips_resize).to(device))
    return extractor, lpips


def _version(package: str) -> str:
    from importlib.metadata import version

    return f"{package} {version(package)}"


def score_run(metrics_cfg: Any, real: torch.Tensor, fp: torch.Tensor, quantized: torch.Tensor | None,
              seed: int = 0, data_key: Any = None, device: str = "cpu",
              dist: Any = None) -> dict[str, Any]:
    """The ``metrics`` section of a result record. ``real`` are the reference images,
    ``fp``/``quantized`` the samples from the same noise (all [-1, 1], (N, C, H, W));
    ``data_key`` names the reference set (dataset, split, ...) for the statistics cache.
    ``dist`` (a :class:`genq.distributed.DataParallel`) shards feature extraction and the
    paired distances across processes; every process returns the same numbers."""
    from genq.metrics.checks import validate_metrics
    from genq.metrics.distribution import fidelity_fid, fidelity_kid, fidelity_statistics, inception_score
    from genq.metrics.features import extract_all
    from genq.metrics.lpips import lpips_distance
    from genq.metrics.paired import ssim
    from genq.metrics import bootstrap as boot
    from genq.metrics.prdc import knn_radii, prdc
    from genq.metrics.reference import reference_stats

    mc = metrics_cfg
    validate_metrics(mc)
    n_ref, n = int(real.shape[0]), int(fp.shape[0])
    if mc.compute_is and mc.is_splits > n:
        raise GenqError(f"metrics.is_splits={mc.is_splits} is more than the {n} samples scored; "
                        "accepted: at most one split per sample.")
    if mc.compute_pr and mc.pr_k >= min(n, n_ref):
        raise GenqError(f"metrics.pr_k={mc.pr_k} needs more than {mc.pr_k} samples in each set; "
                        f"got {n} samples and {n_ref} reference images.")
    start = time.perf_counter()
    if dist is None:
        from genq.distributed import DataParallel

        dist = DataParallel()
    extractor, lpips = load_metric_networks(mc, device)
    ref = reference_stats(extractor, real, data_key, mc.batch_size, mc.cache_reference)
    fidelity = mc.implementation == "torch_fidelity"
    kid_size = min(mc.kid_subset_size, n_ref, n)

    def kid(real_feats: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
        impl = fidelity_kid if fidelity else kid_from_features
        return impl(real_feats, fake, subset_size=mc.kid_subset_size, subsets=mc.kid_subsets, seed=seed)

    pr_real = pr_radii = None
    if mc.compute_pr:
        pr_real = ref.features
        if n_ref > n:   # equal set sizes, as in Kynkaanniemi et al.: a seeded subset of the real ones
            pr_real = ref.features[torch.randperm(n_ref, generator=torch.Generator().manual_seed(seed))[:n]]
        pr_radii = knn_radii(pr_real, mc.pr_k)
    # One draw of resampling counts for every metric: the FP/quantized pairs stay paired.
    counts = boot.resample_counts(n, mc.bootstrap, seed) if mc.bootstrap else None

    def per_set(images: torch.Tensor, suffix: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        emb = dist.map(lambda x: extract_all(extractor, x, mc.batch_size, logits=mc.compute_is), images)
        if fidelity:
            emb["stats"] = fidelity_statistics(emb["features"])
            m: dict[str, Any] = {f"fid{suffix}": fidelity_fid(ref.fid_stats, emb["stats"], emb["features"])}
        else:
            m = {f"fid{suffix}": fid_from_features(ref.features, emb["features"])}
        m[f"kid{suffix}"], m[f"kid{suffix}_std"] = kid(ref.features, emb["features"])
        if counts is not None:
            m[f"fid{suffix}_ci95"] = boot.interval(m[f"fid{suffix}"], lambda: boot.fid_replicates(
                ref.features, emb["features"], counts), floor=0.0)
            m[f"kid{suffix}_ci95"] = boot.interval(m[f"kid{suffix}"], lambda: boot.kid_replicates(
                ref.features, emb["features"], counts))
        if mc.compute_is:
            m[f"is{suffix}"], m[f"is{suffix}_std"] = inception_score(emb["logits"], mc.is_splits, seed)
        if mc.compute_pr:
            m.update({f"{key}{suffix}": value for key, value in
                      prdc(pr_real, emb["features"], mc.pr_k, real_radii=pr_radii).items()})
        return m, emb

    out, emb_fp = per_set(fp, "_fp")
    if quantized is None:
        out.update({key[:-3] if key.endswith("_fp") else key.replace("_fp_", "_"): value
                    for key, value in list(out.items())})
    else:
        m_q, emb_q = per_set(quantized, "")
        out.update(m_q)
        out["qfid"] = (fidelity_fid(emb_fp["stats"], emb_q["stats"], emb_q["features"]) if fidelity
                       else fid_from_features(emb_fp["features"], emb_q["features"]))
        if mc.lpips_net == "digits_classifier":
            pairs = dist.map(lambda a, b: feature_lpips(lpips, a, b, mc.batch_size), quantized, fp)
        else:
            pairs = dist.map(lambda a, b: lpips_distance(lpips, a, b, mc.batch_size), quantized, fp)
        out["lpips_vs_fp"] = float(pairs.mean())
        per_image = psnr(quantized, fp)
        finite = per_image[torch.isfinite(per_image)]
        # Identical pairs have infinite PSNR; the mean is over the pairs that differ.
        out["psnr_vs_fp"] = float(finite.mean()) if len(finite) else None
        out["identical_to_fp"] = int((~torch.isfinite(per_image)).sum())
        if counts is not None:
            out["qfid_ci95"] = boot.interval(out["qfid"], lambda: boot.paired_fid_replicates(
                emb_fp["features"], emb_q["features"], counts), floor=0.0)
            out["lpips_vs_fp_ci95"] = boot.interval(out["lpips_vs_fp"], lambda: boot.mean_replicates(
                pairs, counts))
            out["psnr_vs_fp_ci95"] = boot.interval(out["psnr_vs_fp"], lambda: boot.mean_replicates(
                per_image, counts))
        if mc.compute_ssim:
            per_pair = ssim(quantized, fp)
            if per_pair is not None:
                out["ssim_vs_fp"] = float(per_pair.mean())

    _, _, h, w = fp.shape
    if mc.lpips_net == "digits_classifier":
        lpips_name, lpips_resize = f"{mc.lpips_net} (uniform layer weights)", f"none (native {h}x{w})"
    else:
        lpips_name, lpips_resize = lpips.describe(h, w)
    out.update({"feature_extractor": extractor.name, "lpips_net": lpips_name, "n_samples": n,
                "n_reference": n_ref, "kid_subset_size": kid_size, "kid_subsets": mc.kid_subsets,
                "resize": extractor.resize(h, w), "lpips_resize": lpips_resize,
                "fid_kid_implementation": _version("torch-fidelity" if fidelity else "torchmetrics"),
                "reference_stats": ref.source, "reference_key": ref.key})
    if extractor.weights is not None:
        out["feature_extractor_weights_sha256"] = extractor.weights["sha256"][:16]
        out["feature_extractor_weights_standard"] = extractor.weights["standard"]
    if getattr(lpips, "weights", None) is not None:
        out["lpips_weights_sha256"] = lpips.weights["sha256"][:16]
        out["lpips_weights_standard"] = lpips.weights["standard"]
    if mc.compute_is:
        out["is_splits"] = mc.is_splits
    if mc.compute_pr:
        out["pr_k"], out["pr_n_real"] = mc.pr_k, int(pr_real.shape[0])
    if counts is not None:
        out["ci95_method"] = (f"centred percentile bootstrap, {mc.bootstrap} resamples of the "
                              f"{n} generated samples (seed {seed}); reference features fixed")
    out["scoring_s"] = round(time.perf_counter() - start, 3)
    return out
