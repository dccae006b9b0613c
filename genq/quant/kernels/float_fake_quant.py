"""Minifloat fake quantization under one scale (FP8/FP6/FP4 activations with a static
per-tensor scale) through the fused C kernel: one pass instead of eight, bit-identical to
:meth:`genq.quant.formats.FloatFormat.fake_quantize`. Returns None where it does not apply
and the caller runs the PyTorch path."""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Any

import torch

from genq.quant.kernels.build import load_library


def bind(lib: ctypes.CDLL) -> Any:
    """The minifloat kernel of a loaded library, with its argument types."""
    fn = lib.genq_float_fake_quant
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64] + [ctypes.c_float] * 4
    fn.restype = None
    return fn


@lru_cache(maxsize=1)
def _kernel() -> Any:
    lib = load_library("fake_quant")
    return None if lib is None else bind(lib)


def _dense(x: torch.Tensor) -> bool:
    """Whether ``x``'s elements fill its storage span with no gaps (any dimension order), so
    an elementwise kernel may walk it as one array."""
    span = 1 + sum((n - 1) * st for n, st in zip(x.shape, x.stride()))
    return span == x.numel() and all(st > 0 for n, st in zip(x.shape, x.stride()) if n > 1)


def native_float_fake_quantize(fmt: Any, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor | None:
    """``fmt.fake_quantize(x, scale)`` for one float32 scale by the C kernel, or None where it
    does not apply (gradient wanted, not float32 on the CPU, a scale per channel, no kernel)."""
    if (x.dtype != torch.float32 or x.device.type != "cpu" or x.numel() == 0
            or scale.numel() != 1 or scale.dim() > x.dim() or scale.dtype != torch.float32
            or scale.device.type != "cpu"
            or (torch.is_grad_enabled() and (x.requires_grad or scale.requires_grad))):
        return None
    kernel = _kernel()
    if kernel is None:
        return None
    if not _dense(x):
        x = x.contiguous()
    out = torch.empty_like(x)
    if out.stride() != x.stride():
        x = x.contiguous()
        out = torch.empty_like(x)
    s = float(scale.reshape(()))
    kernel(x.data_ptr(), out.data_ptr(), x.numel(), s, 2.0 ** fmt.min_exponent,
           1.5 * 2.0 ** (23 - fmt.man_bits), fmt.max_value)
    return out
