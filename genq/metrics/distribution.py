"""Distribution metrics from precomputed features: FID (Heusel et al., 2017), KID
(Bińkowski et al., 2018, arXiv:1801.01401) and the Inception Score, in two implementations
that ``metrics.implementation`` chooses between and the record names:

- ``torchmetrics`` (the digits default): features handed to torchmetrics' FID/KID through an
  identity "feature network";
- ``torch_fidelity`` (the standard preset): torch-fidelity's own functions, the code behind
  its ``fidelity`` command and the numbers papers quote.

Features are extracted once per image set, so FP, quantized and real images are each
embedded a single time however many pairs are compared."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class _Precomputed(nn.Module):
    """Identity: lets torchmetrics' FID/KID accumulate features computed elsewhere."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two (N, D) feature sets."""
    # sync_on_compute=False: under `accelerate launch` every process already holds all the
    # gathered features; torchmetrics' default would gather them once more (doubled sets).
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]), sync_on_compute=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid_from_features(real: torch.Tensor, fake: torch.Tensor, subset_size: int = 100,
                      subsets: int = 50, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over random subsets) between two (N, D) feature sets."""
    subset_size = min(subset_size, real.shape[0], fake.shape[0])
    with warnings.catch_warnings():   # "will save all features": intended, they are small
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets,
                                         subset_size=subset_size, sync_on_compute=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


# --- torch-fidelity's formulas (the standard path): same code as `fidelity --fid --kid --isc`.

def fidelity_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """FID statistics of (N, D) float32 features as torch-fidelity computes them
    (``fid_features_to_statistics``: numpy mean, float64 ``np.cov``)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(features.float().cpu())


def fidelity_fid(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray],
                 features_b: torch.Tensor | None = None) -> float:
    """FID as torch-fidelity's ``fid_statistics_to_metric`` (TTUR formula, trace of the square
    root through the eigenvalues of sigma_a sigma_b). When ``features_b`` (the features
    behind ``stats_b``) has fewer samples than dimensions, sigma_b = B^T B is low rank and the
    same eigenvalues come from the small symmetric matrix B sigma_a B^T (``_gram_trace``):
    equal up to rounding (the tests check 1e-6), seconds faster at 2048 dimensions."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    if features_b is not None and features_b.shape[0] - 1 < features_b.shape[1]:
        diff = stats_a["mu"] - stats_b["mu"]           # same dtypes and terms as torch-fidelity
        trace_sqrt = _gram_trace_sqrt(stats_a["sigma"], features_b)
        return float(diff.dot(diff) + np.trace(stats_a["sigma"]) + np.trace(stats_b["sigma"])
                     - 2 * trace_sqrt)
    return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID])


def _gram_trace_sqrt(sigma_a: np.ndarray, features_b: torch.Tensor) -> float:
    """Tr sqrt(sigma_a sigma_b) with sigma_b = cov(features_b) = B^T B: the nonzero
    eigenvalues of sigma_a B^T B are those of B sigma_a B^T (m x m, symmetric PSD)."""
    f = features_b.double().cpu().numpy()
    b = (f - f.mean(axis=0)) / np.sqrt(f.shape[0] - 1)
    eig = np.linalg.eigvalsh(b @ sigma_a @ b.T)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def fidelity_kid(real: torch.Tensor, fake: torch.Tensor, subset_size: int = 1000, subsets: int = 100,
                 seed: int = 0) -> tuple[float, float]:
    """torch-fidelity's KID (cubic polynomial kernel, unbiased MMD^2 over random subsets drawn
    with ``np.random.RandomState(seed)``): (mean, std); subsets capped at the smaller set."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    subset_size = min(subset_size, real.shape[0], fake.shape[0])
    out = kid_features_to_metric(fake.float().cpu(), real.float().cpu(), kid_subsets=subsets,
                                 kid_subset_size=subset_size, rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """Inception Score (Salimans et al., 2016, arXiv:1606.03498) from (N, C) logits, as
    torch-fidelity computes it (shuffle, ``splits`` chunks, exp of mean KL): (mean, std)."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    out = isc_features_to_metric(logits.float().cpu(), splits=splits, shuffle=True, rng_seed=seed)
    return float(out[KEY_METRIC_ISC_MEAN]), float(out[KEY_METRIC_ISC_STD])
