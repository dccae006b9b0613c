"""Fake quantization of the two matmuls inside diffusers attention: Q.K^T (inputs Q and K)
and softmax(QK^T).V (inputs: the attention probabilities and V), as Q-Diffusion (Li et al.,
2023, arXiv:2302.04304) does, with its own bit width for the softmax output (which it keeps
higher because the probabilities are heavy-tailed and span orders of magnitude).

Installed as a diffusers attention processor. It computes attention the way diffusers'
classic ``AttnProcessor`` does (explicit scores, softmax, bmm) so that the matmul inputs
exist as tensors to quantize; the projections to_q/to_k/to_v/to_out are ordinary Linear
layers and are quantized as such.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.quant.quantizer import FakeQuantizer


class QuantAttnProcessor(nn.Module):
    """A diffusers attention processor with fake quantizers on the matmul inputs."""

    def __init__(self, q: FakeQuantizer | None, k: FakeQuantizer | None, v: FakeQuantizer | None,
                 probs: FakeQuantizer | None) -> None:
        super().__init__()
        self.q_quantizer, self.k_quantizer, self.v_quantizer = q, k, v
        self.probs_quantizer = probs

    @staticmethod
    def _apply(quantizer: FakeQuantizer | None, x: torch.Tensor) -> torch.Tensor:
        return x if quantizer is None else quantizer(x)

    def forward(self, attn, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, *args, **kwargs) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = (hidden_states if encoder_hidden_states is None
                                          else encoder_hidden_states).shape
        attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)

        query = self._apply(self.q_quantizer, attn.head_to_batch_dim(query))
        key = self._apply(self.k_quantizer, attn.head_to_batch_dim(key))
        value = self._apply(self.v_quantizer, attn.head_to_batch_dim(value))
        probs = self._apply(self.probs_quantizer, attn.get_attention_scores(query, key, attention_mask))
        hidden_states = attn.batch_to_head_dim(torch.bmm(probs, value))

        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def is_diffusers_attention(module: nn.Module) -> bool:
    """True for diffusers' ``Attention`` (imported lazily: quant does not need diffusers)."""
    try:
        from diffusers.models.attention_processor import Attention
    except ImportError:
        return False
    return isinstance(module, Attention)
