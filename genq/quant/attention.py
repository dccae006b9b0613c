"""Fake quantization of the two matmuls inside attention: Q.K^T (inputs Q and K) and
softmax(QK^T).V (inputs: the attention probabilities and V), as Q-Diffusion (Li et al.,
2023, arXiv:2302.04304) does, with its own bit width for the softmax output (which it keeps
higher because the probabilities are heavy-tailed and span orders of magnitude).

The model's own attention processor is kept and wrapped: while it runs, a
``TorchFunctionMode`` scoped to the call intercepts the attention kernels it calls —
``F.scaled_dot_product_attention`` (diffusers' AttnProcessor2_0 and the processors of
PixArt, SD3 or Flux), or the ``baddbmm``/``bmm`` pair of the classic ``AttnProcessor`` — and
computes them explicitly with quantized inputs. Whatever else the processor does (QK-norm,
rotary embeddings, masks, cross-attention, the output projection) runs unchanged. The
projections to_q/to_k/to_v/to_out are ordinary Linear layers, quantized as such.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from genq.quant.report import LayerReport


class _QuantMatmuls(TorchFunctionMode):
    """Replaces the attention kernels of one processor call by explicit, quantized ones."""

    def __init__(self, owner: "QuantAttentionWrapper") -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        o = self.owner
        if func is F.scaled_dot_product_attention:
            return o.sdpa(*args, **kwargs)
        if func in (torch.baddbmm, torch.Tensor.baddbmm) and len(args) >= 3:
            # classic processor: scores = baddbmm(empty, q, k^T, beta=0, alpha=scale)
            q, kt = o.quant(o.q_quantizer, args[1]), args[2]
            kt = o.quant(o.k_quantizer, kt.transpose(-1, -2)).transpose(-1, -2)
            return func(args[0], q, kt, *args[3:], **kwargs)
        if func in (torch.bmm, torch.Tensor.bmm) and len(args) == 2:
            # classic processor: hidden = bmm(probs, v)
            return func(o.quant(o.probs_quantizer, args[0]), o.quant(o.v_quantizer, args[1]))
        return func(*args, **kwargs)


class QuantAttentionWrapper(nn.Module):
    """An attention processor that runs ``inner`` (the model's own processor) with fake
    quantizers on the inputs of its two matmuls."""

    def __init__(self, inner: Any, q: nn.Module | None, k: nn.Module | None, v: nn.Module | None,
                 probs: nn.Module | None) -> None:
        super().__init__()
        self.inner = inner
        self.q_quantizer, self.k_quantizer, self.v_quantizer = q, k, v
        self.probs_quantizer = probs

    @staticmethod
    def quant(quantizer: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        return x if quantizer is None else quantizer(x)

    def sdpa(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
             attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0, is_causal: bool = False,
             scale: float | None = None, enable_gqa: bool = False) -> torch.Tensor:
        """``F.scaled_dot_product_attention`` computed step by step (eval: no dropout)."""
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        query, key = self.quant(self.q_quantizer, query), self.quant(self.k_quantizer, key)
        value = self.quant(self.v_quantizer, value)
        if enable_gqa and key.shape[-3] != query.shape[-3]:
            rep = query.shape[-3] // key.shape[-3]
            key, value = key.repeat_interleave(rep, -3), value.repeat_interleave(rep, -3)
        scores = (query * scale) @ key.transpose(-2, -1)
        if is_causal:
            lq, lk = scores.shape[-2], scores.shape[-1]
            causal = torch.ones(lq, lk, dtype=torch.bool, device=scores.device).tril(lk - lq)
            scores = scores.masked_fill(~causal, float("-inf"))
        if attn_mask is not None:
            scores = (scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool
                      else scores + attn_mask)
        probs = self.quant(self.probs_quantizer, scores.softmax(dim=-1))
        return probs @ value

    def __call__(self, *args, **kwargs):      # diffusers calls processors, not modules
        with _QuantMatmuls(self):
            return self.inner(*args, **kwargs)


def is_attention(module: nn.Module) -> bool:
    """True for diffusers' ``Attention`` (imported lazily: quant does not need diffusers)."""
    try:
        from diffusers.models.attention_processor import Attention
    except ImportError:
        return False
    return isinstance(module, Attention)


is_diffusers_attention = is_attention


def quantize_attention(attn: nn.Module, spec: Any, make_quantizer: Callable) -> LayerReport:
    """Wrap ``attn``'s processor with quantizers built from ``spec`` (an AttentionSpec)."""
    name = spec.name
    q = k = v = probs = None
    if spec.qkv is not None:
        q, k, v = (make_quantizer(spec.qkv, f"{name}.{part}", -1) for part in ("query", "key", "value"))
    if spec.softmax is not None:
        probs = make_quantizer(spec.softmax, f"{name}.softmax", -1)
    inner = attn.processor
    if isinstance(inner, QuantAttentionWrapper):
        inner = inner.inner
    attn.set_processor(QuantAttentionWrapper(inner, q, k, v, probs))
    return LayerReport(f"{name}.matmuls", "AttentionMatmul", "quantized",
                       activation=f"QK^T: {q.describe() if q else 'fp'}; softmax.V: "
                                  f"{probs.describe() if probs else 'fp'} x {v.describe() if v else 'fp'}")
