"""Distribution metrics from precomputed features: FID (Heusel et al., 2017) and KID
(Bińkowski et al., 2018, arXiv:1801.01401) through torchmetrics. Features are extracted
once per image set and handed to torchmetrics through an identity "feature network", so
FP, quantized and real images are each embedded a single time however many pairs are
compared."""

from __future__ import annotations

import warnings

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
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
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
                                         subset_size=subset_size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)
