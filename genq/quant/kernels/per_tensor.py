"""Fake quantization under one scale (static per-tensor activations) through the fused C
kernels, one pass each: minifloats (FP8/FP6/FP4; eight passes in PyTorch), bit-identical to
:meth:`genq.quant.formats.FloatFormat.fake_quantize`, and integers (four passes), to
``genq.quant.primitives._fake_quantize_inplace``. Return None where they do not apply, and
the caller runs the PyTorch path."""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Any

import torch

from genq.quant.kernels.build import load_library


def bind(lib: ctypes.CDLL) -> tuple[Any, Any]:
    """The minifloat and integer kernels of a loaded library, with their argument types."""
    fl, it = lib.genq_float_fake_quant, lib.genq_int_fake_quant
    fl.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64] + [ctypes.c_float] * 4
    it.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64] + [ctypes.c_float] * 4
    fl.restype = it.restype = None
    return fl, it


@lru_cache(maxsize=1)
def _kernel() -> Any:
    lib = load_library("fake_quant")
    return None if lib is None else bind(lib)


def applies(x: torch.Tensor, *scalars: torch.Tensor) -> bool:
    """Whether a kernel may take ``x`` (and these one-value scale tensors): float32 on the CPU,
    not empty, no gradient wanted, not being traced by ``torch.compile`` (which compiles the
    PyTorch path)."""
    return (not torch.compiler.is_compiling() and x.dtype == torch.float32
            and x.device.type == "cpu" and x.numel() > 0
            and all(t.numel() == 1 and t.dim() <= x.dim() and t.dtype == torch.float32
                    and t.device.type == "cpu" for t in scalars)
            and not (torch.is_grad_enabled()
                     and (x.requires_grad or any(t.requires_grad for t in scalars))))


def grid(fmt: Any) -> tuple[float, float, float]:
    """A minifloat's kernel arguments: smallest normal, rounding multiplier 1.5 * 2^(23 - m)
    (FloatFormat.round_), largest value."""
    return 2.0 ** fmt.min_exponent, 1.5 * 2.0 ** (23 - fmt.man_bits), fmt.max_value


def _run(which: int, x: torch.Tensor, *args: float) -> torch.Tensor | None:
    kernels = _kernel()
    if kernels is None:
        return None
    out = torch.empty_like(x)       # x's strides exactly when x is dense (any dimension order)
    if out.stride() != x.stride():  # a slice, an expanded view: walk a contiguous copy
        x = x.contiguous()
        out = torch.empty_like(x)
    kernels[which](x.data_ptr(), out.data_ptr(), torch.get_num_threads(), x.numel(), *args)
    return out


def native_float_fake_quantize(fmt: Any, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor | None:
    """``fmt.fake_quantize(x, scale)`` (a FloatFormat) for one float32 scale by the C kernel,
    or None where it does not apply (gradient wanted, not float32 on the CPU, a scale per
    channel, no kernel)."""
    if not applies(x, scale):
        return None
    return _run(0, x, scale.item(), *grid(fmt))


def native_int_fake_quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                             qmin: int, qmax: int) -> torch.Tensor | None:
    """Integer quantize-dequantize with one float32 scale and zero point by the C kernel:
    ``clamp(round(x * (1 / scale)), qmin - zero_point, qmax - zero_point) * scale`` in float32,
    as the PyTorch inference path computes it; None where it does not apply."""
    if not applies(x, scale, zero_point):
        return None
    s, zp = scale.item(), zero_point.item()
    # 1 / s in float64, rounded to float32 by ctypes: the correctly rounded float32 reciprocal
    # torch computes (float64 has more than 2 * 24 + 2 bits, so no double rounding); qmin - zp
    # is exact (zero points are small integers)
    return _run(1, x, 1.0 / s, qmin - zp, qmax - zp, s)
