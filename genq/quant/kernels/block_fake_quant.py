"""Block-scaled fake quantization (MX, NVFP4) through the fused C kernel. (Formats are
taken as ``Any``: genq.quant.formats imports this module, not the reverse.)

:meth:`genq.quant.formats.BlockFormat.fake_quantize_blocks` calls this when it computes the
scales itself (activations at run time) and no gradient is needed; the kernel returns the
same bits as the PyTorch code in three passes over the tensor instead of about twenty
operations (the block formats' simulated sampling was ~1.9x FP, against a 1.5x budget).
Returns None wherever the kernel does not apply, and the caller runs the PyTorch path.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Any

import torch

from genq.quant.kernels.build import load_library
from genq.quant.kernels.per_tensor import applies, grid

_SCALE_E8M0, _SCALE_FP32, _SCALE_SMALL_FLOAT, _SCALE_SMALL_FLOAT_TENSOR = 0, 1, 2, 3
_I64, _F32, _INT = ctypes.c_int64, ctypes.c_float, ctypes.c_int


def bind(lib: ctypes.CDLL) -> Any:
    """The block kernel of a loaded library, with its argument types."""
    fn = lib.genq_block_fake_quant
    fn.argtypes = ([ctypes.c_void_p, ctypes.c_void_p, _INT] + [_I64] * 10
                   + [_INT, _INT, _F32, _F32, _F32, _F32] + [_INT] + [_F32] * 5)
    fn.restype = _INT
    return fn


@lru_cache(maxsize=1)
def _kernel() -> Any:
    lib = load_library("fake_quant")
    return None if lib is None else bind(lib)


@lru_cache(maxsize=None)
def _format_args(fmt: Any) -> tuple | None:
    """The kernel's format arguments, or None for a format it does not know."""
    el = fmt.element
    if getattr(el, "is_integer", False):
        el_args = (1, 0.0, 0.0, 0.0, float(el.qmin), float(el.qmax))
    elif hasattr(el, "man_bits"):
        el_args = (0, *grid(el), 0.0, 0.0)
    else:
        return None
    sf = fmt.scale_format
    if sf == "e8m0":
        mode, s_args = _SCALE_E8M0, (0.0, 0.0, 0.0)
    elif sf == "fp32":
        mode, s_args = _SCALE_FP32, (0.0, 0.0, 0.0)
    elif hasattr(sf, "man_bits"):
        mode = _SCALE_SMALL_FLOAT_TENSOR if fmt.tensor_scale else _SCALE_SMALL_FLOAT
        s_args = grid(sf)
    else:
        return None
    return (mode, fmt.element_emax, float(el.max_value), *s_args, *el_args)


def _collapse(dims: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(size, stride) pairs with size-1 dims dropped and neighbours merged where one stride
    walks both."""
    out: list[tuple[int, int]] = []
    for size, stride in dims:
        if size == 1:
            continue
        if out and out[-1][1] == stride * size:
            out[-1] = (out[-1][0] * size, stride)
        else:
            out.append((size, stride))
    return out


def _layout(x: torch.Tensor, axis: int, block: int) -> tuple[int, ...] | None:
    """Sizes and strides of ``x`` as (n1, n2, n3, block, inner) for the kernel, or None.

    Blocks are independent, so the kernel may visit them in any order: every dimension but
    the block's own elements (the other dimensions and the count of blocks along ``axis``)
    is sorted by stride and merged where one stride walks two; a unit-stride one becomes
    ``inner``, the lanes the kernel vectorizes over (NCHW activations, blocked along
    channels); otherwise blocks lie end to end (NHWC, or blocks along the last dimension)."""
    size, stride = x.shape[axis], x.stride(axis)
    others = [(n, st) for d, (n, st) in enumerate(zip(x.shape, x.stride())) if d != axis]
    others.append((size // block, block * stride))
    dims = _collapse(sorted(others, key=lambda d: -d[1]))
    inner, s_inner = (1, 0)
    if dims and dims[-1][1] == 1 and stride != 1:
        inner, s_inner = dims.pop()
    if len(dims) > 3:
        return None
    dims = [(1, 0)] * (3 - len(dims)) + dims
    (n1, s1), (n2, s2), (n3, s3) = dims
    return (n1, n2, n3, block, inner, s1, s2, s3, stride, s_inner)


def native_block_fake_quantize(fmt: Any, x: torch.Tensor, axis: int) -> torch.Tensor | None:
    """``fmt.fake_quantize_blocks(x, axis)`` by the C kernel, or None where it does not apply
    (gradient wanted, not float32 on the CPU, empty, blocks that do not divide the axis,
    non-finite values, no compiled kernel, inside ``torch.compile``)."""
    if not applies(x):
        return None
    axis = axis % x.dim()
    if x.shape[axis] % fmt.block_size:
        return None
    kernel, args = _kernel(), _format_args(fmt)
    if kernel is None or args is None:
        return None
    out = torch.empty_like(x)
    layout = _layout(x, axis, fmt.block_size) if out.stride() == x.stride() else None
    if layout is None:
        x = x.contiguous()
        out = torch.empty_like(x)
        layout = _layout(x, axis, fmt.block_size)
        if layout is None:
            return None
    status = kernel(x.data_ptr(), out.data_ptr(), torch.get_num_threads(), *layout, *args)
    if status != 0:          # 1: a non-finite value (the PyTorch path propagates it), 2: no memory
        return None
    return out
