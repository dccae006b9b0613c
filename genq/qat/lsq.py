"""Learned step size quantization: LSQ (Esser et al., 2020, arXiv:1902.08153) and its
learnable offset, LSQ+ (Bhalgat et al., 2020, arXiv:2004.09576).

    v_bar = round(clip(v / s + z, qmin, qmax))        x_hat = (v_bar - z) * s      (LSQ)
    v_bar = round(clip((v - beta) / s, qmin, qmax))   x_hat = v_bar * s + beta      (LSQ+)

with a straight-through ``round``. The step size's gradient is then the paper's eq. 3,

    d x_hat / d s = -v/s + round(v/s)   inside the range,   qmin - z or qmax - z  outside,

scaled by ``g = 1 / sqrt(N * Qp)`` (N: elements that share one step size, Qp: the largest
integer level) so that step sizes learn at the pace of the weights. LSQ+'s offset gets
gradient 0 inside the range and 1 outside. Written here rather than taken from torchao's
QAT (whose fake quantizers have fixed scales per observer step) because genq's quantizers
are per-tensor, per-channel or per-group and must start from a PTQ calibration.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genq.quant.granularity import PerChannel, PerGroup, PerTensor
from genq.quant.primitives import _group_view, fake_quantize, round_ste
from genq.quant.quantizer import FakeQuantizer


def grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    """``x`` forward, ``g`` times its gradient backward (LSQ's gradscale function)."""
    scaled = x * g
    return (x - scaled).detach() + scaled


def lsq_quantize(x: torch.Tensor, scale: torch.Tensor, qmin: int, qmax: int,
                 zero_point: torch.Tensor | None = None, offset: torch.Tensor | None = None,
                 g: float = 1.0) -> torch.Tensor:
    """Fake-quantize ``x`` with a learnable step ``scale`` (LSQ) and optionally a learnable
    real-valued ``offset`` (LSQ+) or a fixed integer ``zero_point``; all broadcast to ``x``.
    ``g`` scales the gradients of ``scale`` and ``offset``."""
    s = grad_scale(scale, g) if g != 1.0 else scale
    inv_s = 1.0 / s                      # multiply by the reciprocal, as torch's kernels do
    if offset is not None:
        beta = grad_scale(offset, g) if g != 1.0 else offset
        return round_ste(torch.clamp((x - beta) * inv_s, qmin, qmax)) * s + beta
    if zero_point is None:
        return round_ste(torch.clamp(x * inv_s, qmin, qmax)) * s
    # round(clip(v + z)) - z == round(clip(v, qmin - z, qmax - z)) for an integer z, and the
    # latter rounds exactly as genq.quant.fake_quantize does (same ties), so a freshly
    # prepared model reproduces its PTQ initialisation bit for bit.
    return round_ste(torch.clamp(x * inv_s, qmin - zero_point, qmax - zero_point)) * s


def _scale_shape(g: object, x_dim: int, axis: int | None) -> list[int] | None:
    if isinstance(g, PerChannel) and axis is not None:
        shape = [1] * x_dim
        shape[axis % x_dim] = -1
        return shape
    return None


class LSQQuantizer(nn.Module):
    """A trainable stand-in for a calibrated (frozen) :class:`FakeQuantizer`: the same bits,
    scheme and granularity, its scale as an ``nn.Parameter`` (and for LSQ+ the offset
    ``beta = -zero_point * scale``). ``mode`` and ``describe`` mirror FakeQuantizer, so the
    quantized layers use either one alike."""

    def __init__(self, fq: FakeQuantizer, kind: str, learn_offset: bool = False,
                 use_grad_scale: bool = True) -> None:
        super().__init__()
        if fq.mode != "quant" or fq.scale is None:
            raise ValueError(f"{fq.name}: only calibrated static quantizers become learnable.")
        self.bits, self.symmetric, self.granularity = fq.bits, fq.symmetric, fq.granularity
        self.qmin, self.qmax, self.name, self.kind = fq.qmin, fq.qmax, fq.name, kind
        self.use_grad_scale = use_grad_scale
        self.mode = "quant"
        self.scale = nn.Parameter(fq.scale.detach().clone().float())
        zp = fq.zero_point.detach().clone().float()
        self.learn_offset = bool(learn_offset and not fq.symmetric)
        if self.learn_offset:
            self.offset = nn.Parameter(-zp * self.scale.detach())
            self.register_buffer("zero_point", None)
        else:
            self.offset = None
            self.register_buffer("zero_point", zp)
        self._observer_name = (type(fq.observer).__name__.replace("Observer", "").lower()
                               if fq.observer is not None else "")

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def elements_per_scale(self, x: torch.Tensor) -> int:
        """N of LSQ's gradient scale: weights sharing one step size, or for activations the
        features of one sample (the paper's N_F)."""
        if self.kind == "activation":
            return max(1, x[0].numel() if x.dim() > 1 else x.numel())
        return max(1, x.numel() // max(1, self.scale.numel()))

    def gradient_scale(self, x: torch.Tensor) -> float:
        if not self.use_grad_scale:
            return 1.0
        return 1.0 / math.sqrt(self.elements_per_scale(x) * self.qmax)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "quant":
            return x
        if not (torch.is_grad_enabled() and (x.requires_grad or self.scale.requires_grad)):
            if self.offset is None or self.offset.numel() == 1:
                return self._inference(x)
        g = self.gradient_scale(x)
        gran = self.granularity
        if isinstance(gran, PerGroup):
            axis = gran.axis
            grouped = _group_view(x, gran)
            out = lsq_quantize(grouped, self.scale, self.qmin, self.qmax, self.zero_point,
                               self.offset, g)
            return out.reshape(x.movedim(axis, -1).shape).movedim(-1, axis)
        scale, zp, offset = self.scale, self.zero_point, self.offset
        shape = _scale_shape(gran, x.dim(), getattr(gran, "axis", None)) if scale.dim() == 1 else None
        if shape is not None:
            scale = scale.view(shape)
            zp = None if zp is None else zp.view(shape)
            offset = None if offset is None else offset.view(shape)
        return lsq_quantize(x, scale, self.qmin, self.qmax, zp, offset, g)

    @torch.no_grad()
    def _inference(self, x: torch.Tensor) -> torch.Tensor:
        """The same values without autograd bookkeeping, in place on one buffer (converted
        models sample through this path)."""
        gran = self.granularity
        if self.offset is None:
            per_axis = isinstance(gran, PerGroup) or isinstance(gran, PerChannel) and self.scale.dim() == 1
            axis = gran.axis if per_axis else None
            return fake_quantize(x, self.scale, self.zero_point, self.qmin, self.qmax, axis=axis,
                                 group_size=gran.group_size if isinstance(gran, PerGroup) else None)
        y = x - self.offset          # LSQ+ offsets belong to per-tensor activation quantizers
        y.mul_(1.0 / self.scale).round_().clamp_(self.qmin, self.qmax)
        return y.mul_(self.scale).add_(self.offset)

    def describe(self) -> str:
        kind = "sym" if self.symmetric else "asym"
        g = self.granularity
        where = ("per-tensor" if isinstance(g, PerTensor) else
                 f"per-group({g.group_size})" if isinstance(g, PerGroup) else "per-channel")
        learned = "lsq+" if self.learn_offset else "lsq"
        return f"int{self.bits} {kind} {where} {self._observer_name} {learned}".replace("  ", " ")

    def extra_repr(self) -> str:
        return f"{self.describe()}, mode={self.mode}"


def make_learnable(module: nn.Module, learn_offset: bool = True, use_grad_scale: bool = True) -> int:
    """Replace every calibrated static FakeQuantizer below ``module`` (weights, layer inputs,
    attention matmul inputs) of an integer format by an :class:`LSQQuantizer` started from its
    qparams; dynamic, disabled and non-integer quantizers stay as they are (the latter are
    trained straight-through on their own format: :mod:`genq.qat.format_weights`). Returns
    how many were replaced."""
    swaps: list[tuple[nn.Module, str, FakeQuantizer]] = []
    for parent in module.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, FakeQuantizer) and child.mode == "quant" and child.scale is not None \
                    and child.format.is_integer:
                swaps.append((parent, child_name, child))
    for parent, child_name, fq in swaps:
        kind = "weight" if child_name == "weight_quantizer" else "activation"
        setattr(parent, child_name, LSQQuantizer(fq, kind, learn_offset and kind == "activation",
                                                 use_grad_scale))
    return len(swaps)
