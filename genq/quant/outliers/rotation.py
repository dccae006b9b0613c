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

The rotation is randomized as QuaRot's is: ``R = D H`` with ``D`` a seeded diagonal of random
signs. Without it, an input whose channels share an offset (after a SiLU every channel is
mostly positive) has its mean vector ``c 1`` mapped by ``H`` onto one channel,
``c sqrt(n) e_0``: the rotation would create the outlier it is meant to remove.
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
    """An orthonormal ``n x n`` rotation (float64): random signs times Hadamard for powers of
    two, else times Hadamard (x) a seeded random orthogonal matrix (the module docstring)."""
    signs = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    return signs.double()[:, None] * hadamard_like(n, seed)


def hadamard_like(n: int, seed: int = 0) -> torch.Tensor:
    """The orthonormal Hadamard matrix of ``n`` (a power of two), else ``H_{2^k} (x) Q_m``."""
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
