"""Improved precision and recall (Kynkäänniemi et al., 2019, arXiv:1904.06991).

Each set's manifold is the union of balls around its feature vectors, each ball's radius the
distance to its k-th nearest neighbour in the same set (k=3 in the paper). Precision: the
share of generated samples inside the real manifold; recall: the share of real samples
inside the generated manifold. Distances are ``torch.cdist`` in float32 and the radius is
``kthvalue(k + 1)`` (the point itself is its own nearest neighbour), exactly as
torch-fidelity's ``calculate_precision_recall_full``; the tests check equality with it.
Written here so the real radii are computed once per run and shared by the FP and the
quantized samples, and in row blocks so memory stays O(block x N).
"""

from __future__ import annotations

import torch


def _rows(a: torch.Tensor, b: torch.Tensor, block: int):
    for start in range(0, a.shape[0], block):
        yield torch.cdist(a[start:start + block], b)


def knn_radii(features: torch.Tensor, k: int = 3, block: int = 1000) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row, (N,)."""
    if not 1 <= k < features.shape[0]:
        raise ValueError(f"k={k} needs at least k+1={k + 1} samples, got {features.shape[0]}")
    f = features.float()
    return torch.cat([d.kthvalue(k + 1, dim=1).values for d in _rows(f, f, block)])


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, block: int) -> float:
    """Share of ``points`` inside at least one ball (centre, radius)."""
    inside = [(d <= radii.unsqueeze(0)).any(dim=1) for d in _rows(points.float(), centres.float(), block)]
    return float(torch.cat(inside).float().mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                     real_radii: torch.Tensor | None = None, block: int = 1000) -> tuple[float, float]:
    """(precision, recall) of generated features ``fake`` against ``real`` features."""
    if real_radii is None:
        real_radii = knn_radii(real, k, block)
    precision = _coverage(fake, real, real_radii, block)
    recall = _coverage(real, fake, knn_radii(fake, k, block), block)
    return precision, recall
