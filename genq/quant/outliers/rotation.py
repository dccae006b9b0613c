"""Orthonormal rotations of the reduction dimension (QuaRot, Ashkboos et al.,
arXiv:2404.00456): ``W' = W H`` and ``x' = x H`` leave ``x W^T`` unchanged while spreading an
outlier channel's mass over every channel, so a 4-bit grid fits the rotated tensors better.

For ``n`` a power of two, ``H`` is the normalized Sylvester Hadamard matrix (scipy's
``scipy.linalg.hadamard``, divided by ``sqrt(n)``). Other sizes are ``n = 2^k * m`` with
``m`` odd; ``H = H_{2^k} (x) Q_m``, the Kronecker product of that Hadamard matrix with a
seeded random orthogonal ``m x m`` matrix (QR of a Gaussian, signs fixed so that the draw
is unique), as QuaRot falls back on for sizes without a known Hadamard matrix. The UNet's
concatenated skip inputs (96, 192 channels) are such sizes; a layer with one input channel
gets ``H = [1]``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from genq.errors import GenqError


def random_orthogonal(m: int, seed: int) -> torch.Tensor:
    """A seeded random orthogonal ``m x m`` matrix (float64): Q of the QR of a Gaussian,
    each column's sign set so that R's diagonal is positive (Haar-distributed)."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(m, m, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))


def rotation_matrix(n: int, seed: int = 0) -> torch.Tensor:
    """An orthonormal ``n x n`` rotation (float64): Hadamard for powers of two, else
    Hadamard (x) a seeded random orthogonal matrix (see the module docstring)."""
    if n < 1:
        raise GenqError(f"a rotation needs at least one channel; got n={n}.")
    power = n & -n                                   # the largest power of two dividing n
    odd = n // power
    h = torch.from_numpy(scipy.linalg.hadamard(power).astype(np.float64)) / power ** 0.5
    if odd == 1:
        return h
    return torch.kron(h.contiguous(), random_orthogonal(odd, seed).contiguous())


def rotate_along(t: torch.Tensor, axis: int, matrix: torch.Tensor) -> torch.Tensor:
    """``t`` with its ``axis`` multiplied by ``matrix`` on the right: ``t' = t H`` along it."""
    moved = t.movedim(axis, -1)
    return (moved @ matrix.to(t.dtype)).movedim(-1, axis)
