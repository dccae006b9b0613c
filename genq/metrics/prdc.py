"""Fidelity and diversity of a generated set from k-nearest-neighbour balls in feature space:
improved precision and recall (Kynkäänniemi et al., 2019, arXiv:1904.06991) and density and
coverage (Naeem et al., 2020, arXiv:2002.09797).

Each real (or generated) feature gets a ball whose radius is the distance to its k-th nearest
neighbour in its own set (the point itself excluded). Precision: share of generated samples
inside some real ball (fidelity); recall: share of real samples inside some generated ball
(diversity); density: real balls around each generated sample, averaged and divided by k
(fidelity that counts crowding, may exceed 1); coverage: share of real samples whose own ball
holds a generated sample (diversity robust to outliers). Definitions and strict ``<`` as in
the authors' ``prdc`` package (``compute_prdc``), which the tests check equality with.

Written here rather than calling ``prdc``: that package builds the full N x M distance
matrix with scikit-learn (10,000 Inception features: GBs), prints, and cannot share the real
radii between the FP and the quantized sets of one run. Distances here are exact float64
(no matrix-product shortcut), in row blocks, so memory stays O(block x N).
"""

from __future__ import annotations

import torch

PRDC_KEYS = ("precision", "recall", "density", "coverage")


def _blocks(a: torch.Tensor, b: torch.Tensor, block: int):
    for start in range(0, a.shape[0], block):
        yield torch.cdist(a[start:start + block], b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(features: torch.Tensor, k: int = 5, block: int = 1000) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row, (N,), float64."""
    if not 1 <= k < features.shape[0]:
        raise ValueError(f"k={k} needs at least k+1={k + 1} samples, got {features.shape[0]}")
    f = features.double()
    return torch.cat([d.kthvalue(k + 1, dim=1).values for d in _blocks(f, f, block)])


def prdc(real_features: torch.Tensor, fake_features: torch.Tensor, nearest_k: int = 5,
         real_radii: torch.Tensor | None = None, block: int = 1000) -> dict[str, float]:
    """{"precision", "recall", "density", "coverage"} of ``fake_features`` against
    ``real_features`` ((N, D) and (M, D)); ``real_radii`` may be passed when computed once
    for several generated sets."""
    real, fake = real_features.double(), fake_features.double()
    if real_radii is None:
        real_radii = knn_radii(real, nearest_k, block)
    fake_radii = knn_radii(fake, nearest_k, block)
    # Walk the generated samples in blocks: distances (block, N_real).
    inside_real = torch.zeros(real.shape[0], dtype=torch.bool)   # real inside a fake ball
    nearest_fake = torch.full((real.shape[0],), float("inf"), dtype=torch.float64)
    precise, balls = [], []
    for start, d in zip(range(0, fake.shape[0], block), _blocks(fake, real, block)):
        within = d < real_radii.unsqueeze(0)                      # fake j inside real ball i
        precise.append(within.any(dim=1))
        balls.append(within.sum(dim=1))
        inside_real |= (d < fake_radii[start:start + block].unsqueeze(1)).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    return {"precision": float(torch.cat(precise).double().mean()),
            "recall": float(inside_real.double().mean()),
            "density": float(torch.cat(balls).double().mean() / nearest_k),
            "coverage": float((nearest_fake < real_radii).double().mean())}
