"""Which number formats a real CUDA backend can run on this GPU, and a refusal naming the
layers and formats it cannot, before any timing (simulated quality, ``bench=fake-quant``,
always works).

- integer formats: ``cuda_int8`` runs int8 through torchao on any CUDA GPU (other integer
  widths are timed as int8 and the record says so, :mod:`genq.bench.backends.format_match`);
- FP8 (``fp8_e4m3``, ``fp8_e5m2``): ``torch._scaled_mm`` through torchao needs compute
  capability >= 8.9 (Ada, Hopper; Micikevicius et al., 2022, arXiv:2209.05433);
- MX and NVFP4 block formats: block-scaled tensor-core GEMMs exist from Blackwell (compute
  capability >= 10.0) only (OCP MX v1.0, arXiv:2310.10537); genq has no backend wired to
  torchao's MXFP8/MXFP4/NVFP4 inference configs yet, so they are refused on Blackwell too,
  with that reason;
- FP6/FP4 minifloats with per-tensor or per-channel scales: no GEMM kernel takes them
  (hardware FP4/FP6 GEMMs take block scales; torchao's FP6-LLM kernel is weight-only).

The CPU backends refuse elsewhere: ``cpu_int8`` names every layer whose format is not an
integer (:mod:`genq.bench.backends.lowering`); ``cpu_bf16``/``cpu_fp16`` time the FP model.
"""

from __future__ import annotations

from torch import nn

from genq.bench.backends.format_match import TIMED_FORMATS
from genq.errors import GenqError
from genq.quant.formats import BlockFormat, FloatFormat, Format, IntFormat

FP8_CAPABILITY = (8, 9)
BLOCK_CAPABILITY = (10, 0)


def _cc(capability: tuple[int, int]) -> str:
    return f"{capability[0]}.{capability[1]}"


def why_no_kernel(fmt: Format, capability: tuple[int, int]) -> str:
    """Why no CUDA kernel on a GPU of ``capability`` runs ``fmt`` ('' when one does)."""
    if isinstance(fmt, IntFormat):
        return ""
    if isinstance(fmt, BlockFormat):
        if capability < BLOCK_CAPABILITY:
            return (f"{fmt.name} needs block-scaled GEMMs, which need a Blackwell GPU (compute "
                    f"capability >= 10.0); this GPU has {_cc(capability)}")
        return (f"{fmt.name}: this Blackwell GPU has block-scaled GEMMs, but genq has no backend "
                "wired to torchao's MX/NVFP4 inference configs yet")
    if isinstance(fmt, FloatFormat) and fmt.bits == 8:
        if capability < FP8_CAPABILITY:
            return (f"{fmt.name} needs FP8 GEMMs (torch._scaled_mm), which need compute capability "
                    f">= 8.9 (Ada/Hopper); this GPU has {_cc(capability)}")
        return ""
    return (f"{fmt.name} with per-tensor/channel scales: no GEMM kernel takes it (FP4/FP6 GEMMs take "
            "block scales: use mxfp4/nvfp4/mxfp6)")


def layer_formats(simulated: nn.Module) -> list[tuple[str, str, Format]]:
    """(layer, role, format) of every active quantizer of ``simulated``."""
    found = []
    for name, mod in simulated.named_modules():
        for role, attr in (("weight", "weight_quantizer"), ("input", "input_quantizer")):
            q = getattr(mod, attr, None)
            fmt = getattr(q, "format", None)
            if fmt is not None and getattr(q, "mode", "quant") in ("quant", "dynamic"):
                found.append((name, role, fmt))
    return found


def check_kernel_formats(backend: str, simulated: nn.Module | None,
                         capability: tuple[int, int] | None = None) -> None:
    """Raise GenqError naming the layers whose formats no kernel on this GPU runs."""
    if simulated is None or backend not in TIMED_FORMATS:    # autocast backends time the FP model
        return
    if capability is None:
        import torch

        capability = tuple(torch.cuda.get_device_capability())
    refused: dict[str, list[str]] = {}
    for name, role, fmt in layer_formats(simulated):
        reason = why_no_kernel(fmt, capability)
        if reason:
            refused.setdefault(reason, []).append(f"{name} ({role})")
    if refused:
        parts = [f"{reason}: {', '.join(layers[:6])}{f' and {len(layers) - 6} more' if len(layers) > 6 else ''}"
                 for reason, layers in refused.items()]
        raise GenqError(f"bench.backend={backend!r} cannot time this recipe: no kernel on this machine "
                        f"runs its formats. {'; '.join(parts)}. Accepted here: integer formats"
                        f"{' and fp8_e4m3/fp8_e5m2' if capability >= FP8_CAPABILITY else ''}; "
                        "bench=fake-quant times the simulated model of any format.")
