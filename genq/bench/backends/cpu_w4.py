"""W4 Linear layers on the CPU through torch's own int4 kernels (issue 20).

- ``cpu_w4a16``: int4 weights per group of the input dimension with a float scale and zero
  per group (the "tinygemm" layout, ``w = (u - 8) * scale + zero``, u in 0..15), activations
  in bf16: ``aten._weight_int4pack_mm_for_cpu`` (AVX-512/AVX2 kernels). This is the kernel
  torchao's ``Int4CPULayout`` called; torchao 0.18 dropped that layout for x86 and its
  remaining int4 weight-only CPU paths need ``mslk`` or its Arm kernel library, so genq calls
  the aten op itself.
- ``cpu_w4a8``: int8 activations quantized dynamically per row (asymmetric) times int4
  symmetric per-group weights: ``aten._dyn_quant_pack_4bit_weight`` /
  ``aten._dyn_quant_matmul_4bit`` (KleidiAI kernels on Arm; on x86 ATen runs its reference
  implementation, which the record's notes say).

Only ``nn.Linear`` layers whose input width is a multiple of the group size are replaced; the
rest (convolutions, attention matmuls, norms) stay FP32 and the coverage table says why.
With a simulated model whose Linear weights are int4 per group of the same size, its very
integers are packed (real = simulated up to activation rounding); otherwise the FP weights
are rounded to nearest per group (min-max), as torchao does.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from genq.bench.backends.coverage import CoverageRow
from genq.errors import GenqError

W4_BACKENDS = ("cpu_w4a16", "cpu_w4a8")
GROUP_SIZES = (32, 64, 128, 256)
KERNEL = {"cpu_w4a16": "aten._weight_int4pack_mm_for_cpu (int4 weights, bf16 activations)",
          "cpu_w4a8": "aten._dyn_quant_matmul_4bit (dynamic int8 activations per row, int4 weights)"}


def int4_codes(weight: torch.Tensor, group_size: int, symmetric: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Round-to-nearest int4 per group of ``group_size`` input elements: codes ``u`` in 0..15
    (N, K) and per-group ``scale``/``zero`` (N, K // group_size) with ``w ~ (u - 8) * scale + zero``
    (symmetric: zero = 0, codes centred on 8)."""
    n, k = weight.shape
    g = weight.float().reshape(n, k // group_size, group_size)
    if symmetric:
        scale = (g.abs().amax(-1) / 7.0).clamp_min(1e-12)
        u = (g / scale[..., None]).round().clamp(-8, 7) + 8
        return u.reshape(n, k), scale, torch.zeros_like(scale)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15.0).clamp_min(1e-12)
    u = ((g - lo[..., None]) / scale[..., None]).round().clamp(0, 15)
    return u.reshape(n, k), scale, lo + 8 * scale


def simulated_codes(layer: nn.Module, group_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The simulated layer's own int4 codes, scales and zeros when its weight quantizer is a
    4-bit integer grid per group of ``group_size`` along the input dimension; else None."""
    from genq.quant.granularity import PerGroup

    wq = getattr(layer, "weight_quantizer", None)
    if wq is None or not wq.format.is_integer or wq.bits != 4 or wq.scale is None:
        return None
    gran = wq.granularity
    if not (isinstance(gran, PerGroup) and gran.group_size == group_size):
        return None
    n, k = layer.weight_fp.shape
    scale = wq.scale.detach().float().reshape(n, k // group_size)
    zp = wq.zero_point.detach().float().reshape(n, k // group_size) if wq.zero_point is not None \
        else torch.zeros_like(scale)
    offset = zp - wq.qmin                          # u = round(w_hat / s) + offset in 0..15
    w_hat = layer.weight.detach().float().reshape(n, k // group_size, group_size)
    u = (w_hat / scale[..., None]).round() + offset[..., None]
    return u.reshape(n, k).clamp(0, 15), scale, (8 - offset) * scale


class Int4Linear(nn.Module):
    """A Linear layer on torch's int4 CPU kernels (``kind``: cpu_w4a16 or cpu_w4a8)."""

    def __init__(self, kind: str, codes: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor,
                 bias: torch.Tensor | None, group_size: int) -> None:
        super().__init__()
        self.kind, self.group_size = kind, group_size
        self.out_features, self.in_features = codes.shape
        self.bias = None if bias is None else nn.Parameter(bias.detach().float(), requires_grad=False)
        if kind == "cpu_w4a16":
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(torch.int32), 1)
            sz = torch.stack([scale.t(), zero.t()], -1).contiguous().to(torch.bfloat16)   # (K/G, N, 2)
            self.register_buffer("packed", packed)
            self.register_buffer("scales_and_zeros", sz)
        else:
            if zero.abs().max() > 0:
                raise GenqError("cpu_w4a8 takes symmetric int4 weights (zero point 8); got an asymmetric grid.")
            u = codes.to(torch.uint8)
            nibbles = (u[:, 1::2] << 4 | u[:, ::2]).contiguous()
            packed = torch.ops.aten._dyn_quant_pack_4bit_weight(
                nibbles, scale.float().contiguous(), None if bias is None else bias.detach().float(),
                group_size, self.in_features, self.out_features)
            self.register_buffer("packed", packed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if self.kind == "cpu_w4a16":
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(rows.to(torch.bfloat16), self.packed, self.group_size,
                                                          self.scales_and_zeros).float()
            if self.bias is not None:
                y = y + self.bias
        else:      # the bias is packed with the weights
            y = torch.ops.aten._dyn_quant_matmul_4bit(rows.float().contiguous(), self.packed, self.group_size,
                                                      self.in_features, self.out_features)
        return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def _plain_linear_weight(layer: nn.Module) -> torch.Tensor:
    return (layer.weight_fp if hasattr(layer, "weight_fp") else layer.weight).detach()


def build_cpu_w4(kind: str, fp_network: nn.Module, group_size: int,
                 simulated: nn.Module | None = None) -> dict[str, Any]:
    """A copy of ``fp_network`` whose eligible Linear layers run on the int4 kernels of
    ``kind``; ``fn`` (positional args -> tensor), the ``coverage`` rows, ``model_bytes`` and
    ``notes``. Integers come from ``simulated`` where its layer is int4 per group of this size."""
    from genq.bench.backends.runner import forward_fn
    from genq.bench.isa import cpu_info

    if kind not in W4_BACKENDS:
        raise GenqError(f"bench backend {kind!r} is not a W4 CPU backend; accepted: {', '.join(W4_BACKENDS)}.")
    if group_size not in GROUP_SIZES:
        raise GenqError(f"bench.w4_group_size={group_size} is not supported by torch's int4 CPU kernels; "
                        f"accepted: {', '.join(map(str, GROUP_SIZES))}.")
    net = copy.deepcopy(fp_network).eval()
    sim_modules = dict(simulated.named_modules()) if simulated is not None else {}
    rows, replaced, from_sim = [], 0, 0
    for name, mod in list(net.named_modules()):
        if not isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            continue
        kind_name = type(mod).__name__
        if not isinstance(mod, nn.Linear):
            rows.append(CoverageRow(name, kind_name, "fp32 (fallback)", "no int4 kernel for convolutions"))
            continue
        if mod.in_features % group_size:
            rows.append(CoverageRow(name, kind_name, "fp32 (fallback)",
                                    f"input width {mod.in_features} is not a multiple of the group size {group_size}"))
            continue
        sim = simulated_codes(sim_modules[name], group_size) if name in sim_modules else None
        if kind == "cpu_w4a8" and sim is not None and sim[2].abs().max() > 0:
            sim = None                                  # asymmetric simulated grid: round the FP weights
        codes, scale, zero = sim if sim is not None else int4_codes(_plain_linear_weight(mod), group_size,
                                                                    symmetric=kind == "cpu_w4a8")
        from_sim += sim is not None
        new = Int4Linear(kind, codes, scale, zero, mod.bias, group_size)
        parent_name, _, attr = name.rpartition(".")
        setattr(net.get_submodule(parent_name) if parent_name else net, attr, new)
        replaced += 1
        source = "the simulated model's int4 codes" if sim is not None else "int4 RTN of the FP weights"
        rows.append(CoverageRow(name, kind_name, f"int4 g{group_size} ({source})", KERNEL[kind]))
    if not replaced:
        raise GenqError(f"bench={kind}: no Linear layer with an input width divisible by {group_size} to run on "
                        "int4 kernels (convolutions have none); layers: "
                        + ", ".join(f"{r.layer} ({r.type}: {r.kernel})" for r in rows[:6]))
    nbytes = sum(b.numel() * b.element_size() for b in net.buffers()) + \
        sum(p.numel() * p.element_size() for p in net.parameters())
    notes = [f"{replaced} Linear layers on {KERNEL[kind]}; {from_sim} with the simulated model's codes, "
             f"{replaced - from_sim} rounded from the FP weights (min-max per group of {group_size})",
             "convolutions, attention matmuls and norms run in FP32"]
    if kind == "cpu_w4a8" and "aarch64" not in cpu_info()["model"].lower():
        notes.append("on x86, ATen's _dyn_quant_matmul_4bit is a reference implementation (its fast kernels "
                     "are KleidiAI's, Arm only): correct, not fast")
    fn_inner = forward_fn(net)

    def fn(*args: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return fn_inner(*args)
    return {"fn": fn, "network": net, "coverage": rows, "model_bytes": nbytes, "notes": notes}
