"""CUDA backends: fp16/bf16 autocast, and int8/fp8 through torchao's ``quantize_``
(int8: dynamic per-token activations x per-channel int8 weights, ``torch._int_mm``;
fp8: dynamic float8 e4m3 activations and weights scaled per row, ``torch._scaled_mm``, Micikevicius et al.
2022, arXiv:2209.05433). torchao's configs cover Linear layers; every Conv2d and
ConvTranspose2d stays in bf16 and is listed as a fallback in the coverage table.

The int8/fp8 models use torchao's dynamic activation scales, not the simulated model's
static ones; the record says so and the agreement numbers show the difference.
A machine without a GPU gets a GenqError before any work (``check_cuda``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from genq.bench.backends.coverage import CoverageRow
from genq.bench.backends.inductor import for_backend, scoped
from genq.bench.backends.runner import forward_fn
from genq.config.bench import CUDA_BACKENDS
from genq.errors import GenqError

__all__ = ["CUDA_BACKENDS", "check_cuda", "build_cuda", "torchao_config"]


def check_cuda(backend: str) -> None:
    """Fail clearly where ``backend`` cannot run."""
    if not torch.cuda.is_available():
        raise GenqError(f"bench.backend={backend!r} needs a CUDA GPU, but torch.cuda.is_available() "
                        f"is False on this machine (torch {torch.__version__}); use bench=cpu_int8 or "
                        "bench=cpu_bf16 here.")
    if backend == "cuda_fp8" and torch.cuda.get_device_capability() < (8, 9):
        raise GenqError(f"bench.backend='cuda_fp8' needs compute capability >= 8.9 (Ada/Hopper); "
                        f"{torch.cuda.get_device_name()} has {torch.cuda.get_device_capability()}.")


def torchao_config(backend: str) -> Any:
    """torchao's config for ``cuda_int8`` / ``cuda_fp8``, with ``set_inductor_config=False``:
    torchao's default writes its recommended Inductor settings process-wide; here they are
    scoped to this backend's calls (:mod:`genq.bench.backends.inductor`)."""
    from torchao.quantization import (Float8DynamicActivationFloat8WeightConfig,
                                      Int8DynamicActivationInt8WeightConfig, PerRow)

    if backend == "cuda_int8":
        return Int8DynamicActivationInt8WeightConfig(set_inductor_config=False)
    # fp8 per row (torchao's recommended H100 setting): with a per-tensor scale, torchao 0.18
    # mistakes a 128x128 weight for a 128x128-block-scaled one and refuses the UNet's
    # time-embedding Linear ("input_tensor must be 1x128 scaled"; seen on an H200).
    return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow(), set_inductor_config=False)


def build_cuda(backend: str, fp_network: nn.Module, compile: bool = False,
               mode: str | None = None) -> dict[str, Any]:
    """``fn`` (args on the GPU -> tensor) and the coverage rows of ``backend``."""
    check_cuda(backend)
    net = copy.deepcopy(fp_network).eval().cuda()
    dtype = torch.float16 if backend == "cuda_fp16" else torch.bfloat16
    rows: list[CoverageRow] = []
    if backend in ("cuda_int8", "cuda_fp8"):
        from torchao.quantization import quantize_

        net = net.to(torch.bfloat16)
        config = torchao_config(backend)
        quantize_(net, config)
        low = "int8 (torchao, dynamic act)" if backend == "cuda_int8" else "fp8 e4m3 (torchao, dynamic, per row)"
        for name, mod in net.named_modules():
            if isinstance(mod, nn.Linear):
                # torchao leaves layers it cannot run (odd shapes) as they were: read what it did
                done = type(mod.weight).__name__ not in ("Parameter", "Tensor")
                rows.append(CoverageRow(name, "Linear", low if done else "bf16 (fallback)",
                                        "torchao quantize_" if done else
                                        f"torchao left it unquantized (shape {tuple(mod.weight.shape)})"))
            elif isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                rows.append(CoverageRow(name, type(mod).__name__, "bf16 (fallback)",
                                        "torchao's int8/fp8 configs quantize Linear layers only"))
    else:
        for name, mod in net.named_modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                rows.append(CoverageRow(name, type(mod).__name__, f"{dtype} (autocast)", "cuDNN/cuBLAS"))
    if compile:
        net = torch.compile(net, mode=mode)
    fwd = forward_fn(net)

    def fn(*args: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast("cuda", dtype=dtype):
            return fwd(*args)

    return {"fn": scoped(fn, for_backend(backend)), "coverage": rows}
