"""The Fréchet distance between two Gaussians (Heusel et al., 2017, arXiv:1706.08500):

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

computed in float64 with scipy's matrix square root, as the reference pytorch-fid and
TTUR implementations do (including their small diagonal offset when the product is
singular).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg


def _as_float64(x: "np.ndarray | torch.Tensor") -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def frechet_distance(mu1: "np.ndarray | torch.Tensor", sigma1: "np.ndarray | torch.Tensor",
                     mu2: "np.ndarray | torch.Tensor", sigma2: "np.ndarray | torch.Tensor",
                     eps: float = 1e-6) -> float:
    """Squared Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2), as a Python float."""
    mu1, mu2 = np.atleast_1d(_as_float64(mu1)), np.atleast_1d(_as_float64(mu2))
    sigma1, sigma2 = np.atleast_2d(_as_float64(sigma1)), np.atleast_2d(_as_float64(sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"mismatched shapes: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def feature_statistics(features: "np.ndarray | torch.Tensor") -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, D) features, float64."""
    f = _as_float64(features)
    return f.mean(axis=0), np.cov(f, rowvar=False)
