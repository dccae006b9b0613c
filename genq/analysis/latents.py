"""GAN over the latent space: does quantization error grow for atypical latents? Latents
drawn from N(0, I) and scaled to larger and smaller norms; per sample, the distance of the
quantized output to the FP output, binned by latent norm, with Spearman's rank correlation."""

from __future__ import annotations

from typing import Any

import torch
from scipy.stats import spearmanr

from genq.metrics import feature_lpips
from genq.models.gan import GANAdapter


@torch.no_grad()
def error_by_latent_norm(fp: GANAdapter, q: GANAdapter, extractor: Any, n: int = 1000,
                         scales: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0), bins: int = 8,
                         seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, float]]:
    z = torch.cat([fp.make_noise(n, seed + i) * s for i, s in enumerate(scales)])
    a, b = fp.sample(z), q.sample(z)
    mse = (a - b).pow(2).flatten(1).mean(1)
    lp = feature_lpips(extractor.classifier, b, a)
    norm = z.norm(dim=1)
    edges = torch.quantile(norm, torch.linspace(0, 1, bins + 1))
    rows = []
    for i in range(bins):
        sel = (norm >= edges[i]) & ((norm < edges[i + 1]) if i < bins - 1 else (norm <= edges[i + 1]))
        rows.append({"bin": i, "norm_lo": float(edges[i]), "norm_hi": float(edges[i + 1]),
                     "n": int(sel.sum()), "output_mse": float(mse[sel].mean()),
                     "lpips_vs_fp": float(lp[sel].mean())})
    expected = float(torch.tensor(float(z.shape[1])).sqrt())
    summary = {"spearman_norm_vs_mse": float(spearmanr(norm, mse).statistic),
               "spearman_norm_vs_lpips": float(spearmanr(norm, lp).statistic),
               "typical_norm": expected}
    return rows, summary
