"""Agreement of a real backend with the simulated model and with FP: LPIPS (the digits
metrics' feature LPIPS, Zhang et al., 2018, arXiv:1801.03924, uniform layer weights) of
each against the FP samples and against each other, the max absolute pixel difference and
the relative RMS error ``||a - b|| / ||b||`` (any image shape: the full-size speed models'
latents too), on samples generated from the same noise."""

from __future__ import annotations

from typing import Any

import torch


def _lpips_net(shape: tuple[int, ...]):
    """The digits-classifier LPIPS network, or None (with the reason) where it does not apply."""
    from genq.config import MetricsConfig
    from genq.metrics.suite import load_metric_networks

    if tuple(shape) != (1, 16, 16):
        return None, f"digits LPIPS needs 1x16x16 images, got {tuple(shape)}"
    _, net = load_metric_networks(MetricsConfig())
    return net, None


def agreement(images: dict[str, torch.Tensor], fp_key: str = "fp32_eager",
              sim_key: str | None = None) -> dict[str, Any]:
    """LPIPS vs FP of every entry of ``images``; real vs simulated LPIPS and max |diff|."""
    from genq.metrics.paired import feature_lpips

    fp = images[fp_key]
    net, why = _lpips_net(fp.shape[1:])
    out: dict[str, Any] = {"n_samples": len(fp), "lpips_net": "digits_classifier (uniform layer weights)"}
    if net is None:
        out["lpips_net"], out["lpips_skipped"] = None, why
    lp = (lambda a, b: float(feature_lpips(net, a, b).mean())) if net is not None else (lambda a, b: None)
    out["lpips_vs_fp"] = {k: lp(v, fp) for k, v in images.items() if k != fp_key}
    out["max_abs_diff_vs_fp"] = {k: float((v - fp).abs().max()) for k, v in images.items() if k != fp_key}
    out["rel_rms_vs_fp"] = {k: rel_rms(v, fp) for k, v in images.items() if k != fp_key}
    if sim_key is not None and sim_key in images:
        sim = images[sim_key]
        real = {k: v for k, v in images.items() if k.startswith(REAL_PREFIXES)}
        out["lpips_real_vs_simulated"] = {k: lp(v, sim) for k, v in real.items()}
        out["max_abs_diff_real_vs_simulated"] = {k: float((v - sim).abs().max()) for k, v in real.items()}
        out["rel_rms_real_vs_simulated"] = {k: rel_rms(v, sim) for k, v in real.items()}
    return out


REAL_PREFIXES = ("int8", "w4", "cuda")     # variants that run the quantized model on real kernels


def rel_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||`` over the whole batch (0 for identical outputs)."""
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12))
