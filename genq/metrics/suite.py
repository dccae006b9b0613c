"""All the quality numbers of one run, from three image sets: real reference images, FP
samples and quantized samples generated from the same noise bank.

- fid / kid:      quantized samples vs real images (the evaluated model's quality)
- fid_fp / kid_fp: FP samples vs real images, measured in the same run
- qfid:           quantized vs FP samples (distribution shift caused by quantization)
- lpips_vs_fp / psnr_vs_fp: paired distances of each quantized sample to its FP twin

When no quantized samples are given (method fp), the evaluated model is the FP one and the
"vs FP" metrics are absent, not zero.
"""

from __future__ import annotations

from typing import Any

import torch

from genq.metrics.distribution import fid_from_features, kid_from_features
from genq.metrics.features import extract
from genq.metrics.paired import feature_lpips, psnr


def score(extractor: torch.nn.Module, real: torch.Tensor, fp: torch.Tensor,
          quantized: torch.Tensor | None, kid_subset_size: int = 100, kid_subsets: int = 50,
          batch_size: int = 500, seed: int = 0) -> dict[str, Any]:
    feats_real = extract(extractor, real, batch_size)
    feats_fp = extract(extractor, fp, batch_size)
    kid_args = dict(subset_size=kid_subset_size, subsets=kid_subsets, seed=seed)
    out: dict[str, Any] = {"fid_fp": fid_from_features(feats_real, feats_fp)}
    out["kid_fp"], out["kid_fp_std"] = kid_from_features(feats_real, feats_fp, **kid_args)
    if quantized is None:
        out["fid"], out["kid"], out["kid_std"] = out["fid_fp"], out["kid_fp"], out["kid_fp_std"]
    else:
        feats_q = extract(extractor, quantized, batch_size)
        out["fid"] = fid_from_features(feats_real, feats_q)
        out["kid"], out["kid_std"] = kid_from_features(feats_real, feats_q, **kid_args)
        out["qfid"] = fid_from_features(feats_fp, feats_q)
        out["lpips_vs_fp"] = float(feature_lpips(extractor.classifier, quantized, fp, batch_size).mean())
        per_image = psnr(quantized, fp)
        finite = per_image[torch.isfinite(per_image)]
        # Identical pairs have infinite PSNR; the mean is over the pairs that differ.
        out["psnr_vs_fp"] = float(finite.mean()) if len(finite) else None
        out["identical_to_fp"] = int((~torch.isfinite(per_image)).sum())
    out.update({"feature_extractor": getattr(extractor, "name", type(extractor).__name__),
                "lpips_net": f"{getattr(extractor, 'name', 'classifier')} (uniform layer weights)",
                "n_samples": int(fp.shape[0]), "n_reference": int(real.shape[0]),
                "kid_subset_size": min(kid_subset_size, int(real.shape[0]), int(fp.shape[0]))})
    return out
