"""Bootstrap confidence intervals of one run's metrics (Efron & Tibshirani, 1993): the
generated set is resampled with replacement, its features computed once, and each metric
recomputed on every resample.

A resample is a vector of counts ``c`` (how often each generated sample was drawn), so
every metric is a weighted statistic of features that are already at hand:
- FID / FID FP: weighted mean and covariance of the generated features against the fixed
  reference statistics; with S = F^T F, Tr sqrt(S_r S_g) is the nuclear norm of F_r F_g^T,
  the reference factor computed once (float64; n x n matrices when n < D, so Inception's
  2048 dimensions cost little at small n).
- qFID: FP and quantized features resampled with the same counts (they are paired by noise).
- KID: the unbiased MMD^2 with the cubic polynomial kernel on the whole sets, from kernel
  matrices computed once; pairs that are one sample drawn twice count as the diagonal.
- LPIPS / PSNR vs FP: weighted means of the per-pair values.

FID and KID of a resample are biased upward (duplicates shrink the set's diversity, as a
smaller n would), so the interval is the *centred* percentile interval: the replicates are
shifted so their mean equals the run's estimate, then cut at the 2.5 and 97.5 percentiles.
It states how much the metric moves with the draw of n generated samples; it does not
remove FID's own small-n bias, which is why only equal n_samples compare (docs/metrics.md).
"""

from __future__ import annotations

from typing import Callable

import torch

LEVEL = 0.95


def resample_counts(n: int, resamples: int, seed: int) -> torch.Tensor:
    """(resamples, n) float64 counts of n draws with replacement, seeded."""
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(n, (resamples, n), generator=gen)
    counts = torch.zeros(resamples, n, dtype=torch.float64)
    return counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))


def centred_interval(estimate: float, replicates: torch.Tensor, level: float = LEVEL,
                     floor: float | None = None) -> list[float]:
    """[low, high]: percentiles of the replicates, shifted so their mean is ``estimate``."""
    r = replicates[torch.isfinite(replicates)].double()
    alpha = (1.0 - level) / 2
    shift = estimate - float(r.mean())
    low, high = (float(torch.quantile(r, q)) + shift for q in (alpha, 1.0 - alpha))
    if floor is not None:
        low = max(low, floor)
    return [low, high]


def _factor(f: torch.Tensor, w: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, F) of features ``f`` (n, D) drawn with counts ``w``: F^T F is their unbiased
    covariance. F is the weighted centred rows (n x D) when n <= D, else the symmetric square
    root of the covariance (D x D), whichever is smaller."""
    w = torch.ones(f.shape[0], dtype=f.dtype) if w is None else w
    n = w.sum()
    mu = (w.unsqueeze(1) * f).sum(0) / n
    rows = (f - mu) * (w / (n - 1)).sqrt().unsqueeze(1)
    if rows.shape[0] <= rows.shape[1]:
        return mu, rows
    vals, vecs = torch.linalg.eigh(rows.T @ rows)
    return mu, (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def _frechet(mu_a: torch.Tensor, fac_a: torch.Tensor, mu_b: torch.Tensor, fac_b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr S_a + Tr S_b - 2 Tr sqrt(S_a S_b), with S = F^T F: the nonzero
    eigenvalues of S_a S_b are the squared singular values of F_a F_b^T, so the trace of the
    square root is that product's nuclear norm (exact, and small when n < D)."""
    diff = mu_a - mu_b
    tr_sqrt = torch.linalg.svdvals(fac_a @ fac_b.T).sum()
    return float(diff @ diff + (fac_a ** 2).sum() + (fac_b ** 2).sum() - 2 * tr_sqrt)


def fid_replicates(reference: torch.Tensor, generated: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """FID of each resample of ``generated`` against the fixed ``reference`` features."""
    mu_r, fac_r = _factor(reference.detach().double().cpu())
    g = generated.detach().double().cpu()
    return torch.tensor([_frechet(mu_r, fac_r, *_factor(g, w)) for w in counts], dtype=torch.float64)


def paired_fid_replicates(a: torch.Tensor, b: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """FID between ``a`` and ``b`` (paired rows) on each joint resample."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return torch.tensor([_frechet(*_factor(a, w), *_factor(b, w)) for w in counts], dtype=torch.float64)


def _poly_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid_replicates(reference: torch.Tensor, generated: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 (cubic kernel, KID's) of each resample of ``generated`` against
    ``reference``: E k(g, g') over distinct samples + E k(r, r') - 2 E k(g, r)."""
    r, g = reference.detach().double().cpu(), generated.detach().double().cpu()
    m = r.shape[0]
    k_rr = _poly_kernel(r, r)
    term_rr = (k_rr.sum() - k_rr.diagonal().sum()) / (m * (m - 1))
    k_gg, k_gr_rows = _poly_kernel(g, g), _poly_kernel(g, r).sum(1)
    diag = k_gg.diagonal()
    out = []
    for w in counts:
        n = w.sum()
        distinct_pairs = n * n - (w * w).sum()
        term_gg = (w @ k_gg @ w - (w * w * diag).sum()) / distinct_pairs
        term_gr = (w @ k_gr_rows) / (n * m)
        out.append(term_gg + term_rr - 2 * term_gr)
    return torch.stack(out)


def mean_replicates(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Weighted mean of per-sample ``values`` on each resample; non-finite values (PSNR of
    identical pairs) are left out, as in the run's own mean."""
    v = values.detach().double().cpu().flatten()
    finite = torch.isfinite(v)
    w = counts * finite
    return (w * torch.where(finite, v, 0.0)).sum(1) / w.sum(1)


def interval(estimate: float | None, replicate: Callable[[], torch.Tensor],
             floor: float | None = None) -> list[float] | None:
    """The centred 95% interval around ``estimate`` (None when there is no estimate)."""
    if estimate is None:
        return None
    return centred_interval(estimate, replicate(), floor=floor)
