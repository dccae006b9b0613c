"""The transforms an outlier method installs on a fake-quantized layer
(:mod:`genq.quant.modules`): weight transforms run on the stored FP weight before the weight
quantizer, input transforms on the layer's input before the input quantizer. Each is a fixed
function of its buffers and says so by ``cache_token()``, so the quantized weight stays
cached during sampling.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.quant.outliers.rotation import rotate_along


def _broadcast(v: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    shape = [1] * ndim
    shape[axis] = -1
    return v.view(shape)


class ChannelScale(nn.Module):
    """Multiply (``divide=False``: the weight, ``W * s``) or divide (the input, ``X / s``)
    channel ``j`` along ``axis`` by ``s_j``: SmoothQuant's migration (arXiv:2211.10438)."""

    def __init__(self, scale: torch.Tensor, axis: int, divide: bool) -> None:
        super().__init__()
        self.register_buffer("scale", scale.detach())      # shared by the weight and input sides
        self.axis, self.divide = axis, divide

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        s = _broadcast(self.scale.to(t.dtype), self.axis, t.dim())
        return t / s if self.divide else t * s

    def inverse(self, t: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`forward` (a weight back in the original input basis)."""
        s = _broadcast(self.scale.to(t.dtype), self.axis, t.dim())
        return t * s if self.divide else t / s

    def cache_token(self) -> tuple:
        return (id(self.scale), self.scale._version)

    def extra_repr(self) -> str:
        return f"{'divide' if self.divide else 'multiply'} along axis {self.axis}, {self.scale.numel()} channels"


class ChannelRotation(nn.Module):
    """``t H`` along ``axis`` with an orthonormal ``H`` (:mod:`genq.quant.outliers.rotation`):
    the same transform rotates the weight's input axis and the input's channel axis."""

    def __init__(self, matrix: torch.Tensor, axis: int) -> None:
        super().__init__()
        self.register_buffer("matrix", matrix.detach())    # shared by the weight and input sides
        self.axis = axis

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return rotate_along(t, self.axis, self.matrix)

    def inverse(self, t: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`forward`: ``t H^T`` along ``axis`` (``H`` is orthonormal)."""
        return rotate_along(t, self.axis, self.matrix.t())

    def cache_token(self) -> tuple:
        return (id(self.matrix), self.matrix._version)

    def extra_repr(self) -> str:
        return f"axis {self.axis}, {self.matrix.shape[0]} channels"


class LowRankResidual(nn.Module):
    """``W - L1 L2``: the part of the (smoothed) weight the low-rank branch does not carry
    (SVDQuant, arXiv:2411.05007). The branch is the layer's ``lowrank`` module, referenced
    here but registered there only (one owner in the state dict)."""

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.__dict__["branch"] = branch            # not a submodule: the layer owns it

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w - self.branch.dense_weight().to(w.dtype)

    def inverse(self, w: torch.Tensor) -> torch.Tensor:
        """The residual plus the branch: the whole (smoothed) weight the layer applies."""
        return w + self.branch.dense_weight().to(w.dtype)

    def cache_token(self) -> tuple:
        return tuple((id(p), p._version) for p in self.branch.parameters())
