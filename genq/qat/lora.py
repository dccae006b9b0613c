"""Low-rank QAT: a LoRA update (Hu et al., 2021, arXiv:2106.09685) of each quantized layer's
FP weight, merged into the weight *before* it is fake-quantized, as EfficientDM's QALoRA
(He et al., 2024, arXiv:2310.03270) does: W_q = Q(W + (alpha / r) * B A). The base weight is
frozen; only A, B (and the step sizes) train, so the update is cheap to store and the
deployed model is an ordinary quantized one (the merge happens at convert).

Held in the quantized layer's ``weight_transforms`` (genq.quant.modules), which apply before
its weight quantizer, so ``layer.weight`` reads as ``Q(W + delta)`` wherever the layer uses it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genq.quant.modules import QuantMixin


class LoRADelta(nn.Module):
    """``W -> W + scaling * (B @ A).view(W.shape)``; weight viewed as (dim 0, the rest)."""

    def __init__(self, weight_shape: torch.Size, rank: int, alpha: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        rows, cols = weight_shape[0], math.prod(weight_shape[1:])
        rank = min(rank, rows, cols)
        self.A = nn.Parameter(torch.empty(rank, cols))
        self.B = nn.Parameter(torch.zeros(rows, rank))       # zero: the update starts at 0
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5), generator=generator)
        self.scaling = alpha / rank

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.scaling * (self.B @ self.A).view(weight.shape)


def add_lora(module: nn.Module, rank: int, alpha: float | None = None, seed: int = 0) -> list[str]:
    """Give every quantized layer with a weight quantizer a LoRA update of ``rank``; returns
    the layer names. Base weights are frozen; the A factors are drawn from ``seed``."""
    names = []
    generator = torch.Generator().manual_seed(int(seed))
    for name, mod in module.named_modules():
        if isinstance(mod, QuantMixin) and mod.weight_quantizer is not None:
            mod.weight_fp.requires_grad_(False)
            mod.weight_transforms.append(LoRADelta(mod.weight_fp.shape, rank, alpha or rank, generator))
            names.append(name)
    return names


def lora_parameters(module: nn.Module) -> list[nn.Parameter]:
    return [p for m in module.modules() if isinstance(m, LoRADelta) for p in (m.A, m.B)]


@torch.no_grad()
def merge_lora(module: nn.Module) -> int:
    """Fold every LoRA update into its base weight (convert); returns how many."""
    merged = 0
    for mod in module.modules():
        if isinstance(mod, QuantMixin) and any(isinstance(t, LoRADelta) for t in mod.weight_transforms):
            mod.weight_fp.copy_(mod.transformed_weight())
            mod.weight_transforms = nn.ModuleList(t for t in mod.weight_transforms
                                                  if not isinstance(t, LoRADelta))
            merged += 1
    return merged
