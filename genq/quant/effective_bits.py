"""Effective bits: what one weight (and one input-activation) element of a model costs,
scales and low-rank branches included, so recipes are compared at equal memory (the
accounting of SVDQuant, Li et al., 2024, arXiv:2411.05007, and of the OCP MX v1.0 spec,
arXiv:2310.10537: MXFP4 4 + 8/32 = 4.25 bits, NVFP4 4 + 8/16 = 4.5 plus one FP32 scale).

Scope, "covered" layers: every module of a quantizable layer type (genq.quant.targets:
Linear, Conv1d/2d/3d, ConvTranspose2d and registered types), quantized or kept in floating
point for any reason (first/last, exclude, a shape a format cannot block, a type left out of
``quant.layers``). A layer kept in FP costs its stored dtype (32 bits for FP32), so a recipe
that keeps more layers in FP pays for it. Biases, norms and embeddings are not counted.

Weights, per covered layer (bits over the layer's weight elements):
- quantized: elements x format bits, plus one scale per block/group/channel/tensor
  (``quantizer.scale`` holds them): block formats at their scale format's width (E8M0 8,
  E4M3 8) plus NVFP4's FP32 tensor scale; integer and minifloat scales at 16 bits (FP16, as
  GPTQ/AWQ checkpoints store them: INT4 per group of 64 = 4 + 16/64 = 4.25), asymmetric
  integers one zero point more per scale at the integer's own width;
- a low-rank branch (``layer.lowrank``, an nn.Module, SVDQuant) adds its parameters at 16
  bits;
- ``effective_w_bits`` = total bits / total weight elements over covered layers.

Input activations, per covered layer: the format's bits plus the block-scale share (MX, NVFP4:
``bits_per_element``; NVFP4's tensor scale is one per activation tensor and not counted),
plus one 16-bit scale per token for dynamic per-token scales (16 / input channels); one
scale per tensor (static or dynamic) is amortised over the whole activation, so counts 0.
An unquantized input costs the layer's weight dtype width (32 for FP32 models, 16 for
FP16/BF16). ``effective_a_bits`` is the unweighted mean over covered layers (activation
sizes depend on the input and are not known from the model alone). Attention-matmul
quantizers (``attn_bits``/``softmax_bits``) are not counted.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.quant.formats import BlockFormat, Format, IntFormat
from genq.quant.targets import target_for

SCALE_BITS = 16            # per-tensor/channel/group scales of integer and minifloat formats
LOWRANK_BITS = 16          # a low-rank branch's parameters (SVDQuant keeps it in 16 bits)
TENSOR_SCALE_BITS = 32     # NVFP4's per-tensor FP32 scale


def _active(q: nn.Module | None) -> bool:
    return q is not None and getattr(q, "mode", "quant") in ("quant", "dynamic")


def _current(q: nn.Module | None) -> nn.Module | None:
    """The quantizer that runs now: a ScheduledQuantizer's active member (None: FP there)."""
    members = getattr(q, "quantizers", None)
    if isinstance(members, nn.ModuleList) and hasattr(q, "active"):
        q = members[q.active]
        return None if isinstance(q, nn.Identity) else q
    return q


def _format(q: nn.Module) -> Format:
    fmt = getattr(q, "format", None)
    return fmt if fmt is not None else IntFormat(int(q.bits), bool(getattr(q, "symmetric", True)))


def scale_bits(fmt: Format, n_scales: int) -> float:
    """Bits of ``n_scales`` scales (and zero points) of a tensor in format ``fmt``."""
    if isinstance(fmt, BlockFormat):
        return n_scales * fmt.scale_bits + (TENSOR_SCALE_BITS if fmt.tensor_scale else 0)
    zero_point = fmt.bits if isinstance(fmt, IntFormat) and not fmt.symmetric else 0
    return n_scales * (SCALE_BITS + zero_point)


def _weight(layer: nn.Module) -> torch.Tensor:
    """The stored weight of a covered layer (the FP parameter of a quantized one)."""
    name = target_for(layer).weight
    stored = layer._parameters.get(name)
    return stored if stored is not None else getattr(layer, name)


def weight_bits(layer: nn.Module) -> tuple[float, int]:
    """(bits, weight elements) of one covered layer, as the module docstring counts them."""
    weight = _weight(layer)
    n = weight.numel()
    wq = _current(getattr(layer, "weight_quantizer", None))
    if _active(wq):
        fmt = _format(wq)
        parts = getattr(wq, "parts", None) or [wq]      # a split quantizer: each half's scales
        n_scales = sum(p.scale.numel() if getattr(p, "scale", None) is not None else 1 for p in parts)
        bits = n * fmt.bits + scale_bits(fmt, n_scales)
    else:
        bits = float(n * weight.element_size() * 8)
    lowrank = getattr(layer, "lowrank", None)
    if isinstance(lowrank, nn.Module):
        bits += LOWRANK_BITS * sum(p.numel() for p in lowrank.parameters())
    return bits, n


def activation_bits(layer: nn.Module) -> float:
    """Bits per input-activation element of one covered layer."""
    aq = _current(getattr(layer, "input_quantizer", None))
    weight = _weight(layer)
    if not _active(aq):
        return float(weight.element_size() * 8)
    fmt = _format(aq)
    if isinstance(fmt, BlockFormat):
        return fmt.bits_per_element
    if getattr(aq, "dynamic", False) and getattr(aq, "token_axis", None) is not None:
        channels = weight.shape[target_for(layer).in_axis]
        return fmt.bits + SCALE_BITS / channels
    return float(fmt.bits)


def covered_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every module of a quantizable layer type, quantized or kept in FP; the layers inside a
    low-rank branch are that branch's cost, counted with the layer that holds it."""
    branch = {id(sub) for mod in model.modules() if isinstance(getattr(mod, "lowrank", None), nn.Module)
              for sub in mod.lowrank.modules()}
    return [(name, mod) for name, mod in model.named_modules()
            if target_for(mod) is not None and id(mod) not in branch]


def _one_window(layers: list[tuple[str, nn.Module]]) -> tuple[float, int, float, int]:
    """(weight bits, weight elements, mean activation bits, layers with quantized weights)."""
    counts = [weight_bits(mod) for _, mod in layers]
    quantized = sum(_active(_current(getattr(mod, "weight_quantizer", None))) for _, mod in layers)
    return (sum(b for b, _ in counts), sum(n for _, n in counts),
            sum(activation_bits(m) for _, m in layers) / len(layers), quantized)


def effective_bits(model: nn.Module) -> dict[str, Any]:
    """The record's ``effective_w_bits``, ``effective_a_bits`` and what they cover; under a
    precision schedule, the step-weighted means and the stored weight bytes (module docstring)."""
    from genq.quant.schedule import schedule_context

    layers = covered_layers(model)
    if not layers:
        return {"effective_w_bits": None, "effective_a_bits": None, "effective_bits_layers": 0}
    ctx = schedule_context(model)
    windows = ctx.schedule.windows if ctx is not None else []
    if len(windows) < 2:
        total_bits, total_elements, a_bits, quantized = _one_window(layers)
        return {"effective_w_bits": round(total_bits / total_elements, 4),
                "effective_a_bits": round(a_bits, 4),
                "effective_bits_layers": {"covered": len(layers), "weights_quantized": quantized,
                                          "weights_fp": len(layers) - quantized}}
    before = ctx.active
    stored: dict[str, dict[Any, float]] = {name: {} for name, _ in layers}
    per_window = []
    try:
        for k, w in enumerate(windows):
            ctx.set_window(k)
            per_window.append((w.end - w.start, *_one_window(layers)))
            for name, mod in layers:
                wq = _current(getattr(mod, "weight_quantizer", None))
                stored[name][id(wq) if _active(wq) else None] = weight_bits(mod)[0]
    finally:
        ctx.set_window(before)
    steps = sum(s for s, *_ in per_window)
    n = per_window[0][2]
    w_bits = [b / n for _, b, _, _, _ in per_window]
    quantized = max(q for *_, q in per_window)
    return {"effective_w_bits": round(sum(s * b for (s, *_), b in zip(per_window, w_bits)) / steps, 4),
            "effective_a_bits": round(sum(s * a for s, _, _, a, _ in per_window) / steps, 4),
            "effective_w_bits_by_window": [round(b, 4) for b in w_bits],
            "effective_bits_layers": {"covered": len(layers), "weights_quantized": quantized,
                                      "weights_fp": len(layers) - quantized},
            "weight_bytes_stored": round(sum(sum(v.values()) for v in stored.values()) / 8)}
