"""SVDQuant's low-rank branch (Li et al., arXiv:2411.05007): the smoothed weight ``W_s`` is
split into ``L1 L2`` (rank ``r``, from its truncated SVD, held in 16 bits) and a residual
``W_s - L1 L2`` that is quantized; the layer computes ``x_s L1 L2`` on its smoothed,
unquantized input plus the quantized residual path.

The branch is a module of the layer's own kind, so that it sees the layer's input as the
layer does:

- ``Linear`` (``W``: out x in): ``x -> x L2^T -> . L1^T``, two bias-free linear maps
  (``L2``: r x in, ``L1``: out x r).
- ``Conv1d/2d/3d`` (``W``: out x in x k...): the SVD of ``W`` reshaped to out x (in k...);
  ``L2`` is a convolution with ``r`` output channels and the layer's kernel, stride,
  padding and dilation, ``L1`` a 1x1 convolution from ``r`` to out channels; by linearity
  the two compose to a convolution with ``L1 L2`` reshaped to the kernel.
- ``ConvTranspose2d`` (``W``: in x out x k x k): the SVD of ``W`` reshaped to
  in x (out k k); a 1x1 convolution from in to ``r`` channels (``L1^T``), then a transposed
  convolution with ``r`` input channels (``L2``) and the layer's stride, padding, output
  padding and dilation.

Its parameters are 16-bit values (rounded through ``BRANCH_DTYPE``, kept in the layer's
dtype so the simulation computes in it); the effective-bits accounting counts them as 16
bits each (``lowrank.parameters()``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genq.errors import GenqError

BRANCH_DTYPE = torch.float16          # SVDQuant keeps the branch in 16 bits


def _held(t: torch.Tensor, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter(t.to(BRANCH_DTYPE).to(dtype), requires_grad=False)


def _factors(matrix: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L1, L2)`` of the rank-``rank`` truncated SVD of ``matrix`` (float64), the singular
    values split evenly: ``L1 = U sqrt(S)``, ``L2 = sqrt(S) V^T``."""
    u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, root[:, None] * vh[:rank]


class LinearLowRank(nn.Module):
    """``x L2^T L1^T`` for a linear layer (see the module docstring)."""

    def __init__(self, weight: torch.Tensor, rank: int) -> None:
        super().__init__()
        l1, l2 = _factors(weight, rank)
        self.down, self.up = _held(l2, weight.dtype), _held(l1, weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.down), self.up)

    def dense_weight(self) -> torch.Tensor:
        return self.up @ self.down


class ConvLowRank(nn.Module):
    """A rank-``r`` convolution with the layer's geometry, then a 1x1 convolution."""

    def __init__(self, layer: nn.Module, weight: torch.Tensor, rank: int) -> None:
        super().__init__()
        out, n_in, *kernel = weight.shape
        l1, l2 = _factors(weight.reshape(out, -1), rank)
        self.down = _held(l2.reshape(rank, n_in, *kernel), weight.dtype)
        self.up = _held(l1.reshape(out, rank, *[1] * len(kernel)), weight.dtype)
        self.conv = getattr(F, f"conv{len(kernel)}d")
        self.stride, self.padding, self.dilation = layer.stride, layer.padding, layer.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x, self.down, None, self.stride, self.padding, self.dilation)
        return self.conv(h, self.up)

    def dense_weight(self) -> torch.Tensor:
        out, rank = self.up.shape[:2]
        return (self.up.reshape(out, rank) @ self.down.reshape(rank, -1)).reshape(out, *self.down.shape[1:])


class ConvTransposeLowRank(nn.Module):
    """A 1x1 convolution to ``r`` channels, then a transposed convolution with the layer's
    geometry."""

    def __init__(self, layer: nn.ConvTranspose2d, weight: torch.Tensor, rank: int) -> None:
        super().__init__()
        n_in, out, *kernel = weight.shape
        l1, l2 = _factors(weight.reshape(n_in, -1), rank)
        self.down = _held(l1.T.reshape(rank, n_in, 1, 1), weight.dtype)
        self.up = _held(l2.reshape(rank, out, *kernel), weight.dtype)
        self.stride, self.padding = layer.stride, layer.padding
        self.output_padding, self.dilation = layer.output_padding, layer.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.conv2d(x, self.down)
        return F.conv_transpose2d(h, self.up, None, self.stride, self.padding, self.output_padding,
                                  1, self.dilation)

    def dense_weight(self) -> torch.Tensor:
        rank, n_in = self.down.shape[:2]
        return (self.down.reshape(rank, n_in).T @ self.up.reshape(rank, -1)).reshape(n_in, *self.up.shape[1:])


LOWRANK_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def takes_lowrank(layer: nn.Module) -> bool:
    """Whether genq builds a branch for ``layer``: the types above, or a layer that declares
    itself a convolution (``genq_lowrank = "conv"``, with ``stride``, ``padding`` and
    ``dilation``: StyleGAN's ModulatedConv2d)."""
    return isinstance(layer, LOWRANK_TYPES) or getattr(layer, "genq_lowrank", None) == "conv"


def lowrank_branch(layer: nn.Module, weight: torch.Tensor, rank: int) -> nn.Module:
    """The rank-``rank`` branch of ``layer`` whose (smoothed) weight is ``weight``."""
    if isinstance(layer, nn.ConvTranspose2d):
        return ConvTransposeLowRank(layer, weight, rank)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) or getattr(layer, "genq_lowrank", None) == "conv":
        return ConvLowRank(layer, weight, rank)
    if isinstance(layer, nn.Linear):
        return LinearLowRank(weight, rank)
    raise GenqError(f"a low-rank branch is built for {', '.join(t.__name__ for t in LOWRANK_TYPES)}; "
                    f"got {type(layer).__name__}.")


def matrix_dims(weight: torch.Tensor) -> tuple[int, int]:
    """The shape of the matrix whose SVD the branch takes (its rank is at most the smaller):
    the weight's first axis against the rest, for every kind above."""
    return weight.shape[0], weight[0].numel()
