"""Floating-point baselines on the same machine: FP32 eager, FP32 ``torch.compile``
(Inductor, frozen weights), bf16/fp16 autocast (eager: weights cast on every call) and
``bf16_compiled``: the model cast to bf16 once, compiled with frozen weights (the strongest
bf16 a user could run; issue 20).

The compiled FP32 row exists so that an int8 speedup is not mistaken for a compilation
effect: int8 runs compiled, so it is compared with both eager and compiled FP32.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from genq.bench.backends.runner import forward_fn

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def compiled(network: nn.Module, mode: str | None = None, copy_first: bool = True) -> Callable:
    """A compiled copy of ``network`` (``copy_first=False``: of ``network`` itself, which
    compiling leaves as it is), with frozen weights (prepacked oneDNN kernels) while it
    compiles, on its first call: :mod:`genq.bench.backends.inductor`."""
    from genq.bench.backends.inductor import CPU_FLOAT, scoped

    net = copy.deepcopy(network) if copy_first else network
    return scoped(torch.compile(net.eval(), mode=mode), CPU_FLOAT)


def fp32_fn(network: nn.Module, compile: bool = False, mode: str | None = None) -> Callable:
    # no copy: a full-size model's weights are gigabytes, and freezing keeps its own constants
    net = compiled(network, mode, copy_first=False) if compile else network
    fwd = forward_fn(net)

    def fn(*args: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return fwd(*args)
    return fn


def autocast_fn(network: nn.Module, dtype: str = "bfloat16", device: str = "cpu",
                compile: bool = False, mode: str | None = None) -> Callable:
    """``network`` under ``torch.autocast(device, dtype)``: convs, linears and matmuls in
    the low dtype, reductions (GroupNorm, softmax) kept in FP32 by autocast's op lists."""
    net = compiled(network, mode) if compile else network
    fwd = forward_fn(net)
    dt = DTYPES[dtype]

    def fn(*args: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast(device, dtype=dt):
            return fwd(*args).float()
    return fn


def cast_fn(network: nn.Module, dtype: str = "bfloat16", compile: bool = True, mode: str | None = None) -> Callable:
    """A copy of ``network`` cast to ``dtype`` once (weights held in bf16, not cast per call),
    compiled with frozen weights when ``compile``; float inputs are cast on the way in, the
    output comes back as float32."""
    dt = DTYPES[dtype]
    net = copy.deepcopy(network).eval().to(dt)
    run = compiled(net, mode, copy_first=False) if compile else net
    fwd = forward_fn(run)

    def fn(*args: torch.Tensor) -> torch.Tensor:
        args = tuple(a.to(dt) if a.is_floating_point() else a for a in args)
        with torch.no_grad():
            return fwd(*args).float()
    return fn
