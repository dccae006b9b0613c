"""QAT of weights in non-integer formats (FP, MX, NVFP4): a straight-through estimator on the
format's grid, with the scales the format itself prescribes instead of learned step sizes.

LSQ (:mod:`genq.qat.lsq`) learns an integer grid's step size; a block-scaled format (MXFP4,
NVFP4, OCP MX v1.0) has no step size to learn, because its scales are a function of each
block's amax (E8M0 for MX, E4M3 of amax / 6 for NVFP4). So while training, a block-scaled
weight quantizer recomputes its block scales from the *current* weight on every forward, as
torchao's MX and NVFP4 QAT fake quantizers do (``torchao.prototype.qat``), and the gradient
passes straight through inside the element range (:meth:`BlockFormat.fake_quantize_blocks`).
At convert the quantizer is frozen on the final weight, so the deployed model is exactly
what PTQ would make of the trained weights. Per-tensor / per-channel minifloats (fp8, fp6,
fp4) keep their calibrated scale, with the same straight-through gradient
(:meth:`FloatFormat.fake_quantize`); block activations are dynamic already.

Written here because torchao's QAT quantizers replace whole ``nn.Linear`` layers and do not
cover convolutions or genq's per-layer plans.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.quant.modules import QuantMixin
from genq.quant.quantizer import FakeQuantizer


class TrackingBlockQuantizer(nn.Module):
    """A calibrated block-scaled weight quantizer during QAT: block scales from the tensor it
    is given, every time (``fq`` keeps the format, axis and the buffers a checkpoint holds)."""

    def __init__(self, fq: FakeQuantizer) -> None:
        super().__init__()
        self.inner = fq
        self.mode = "quant"

    @property
    def format(self):
        return self.inner.format

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "quant":
            return x
        return self.inner.format.fake_quantize_blocks(x, self.inner.block_axis)

    def describe(self) -> str:
        return f"{self.inner.format.describe()} per-block, scales from the current weight (STE)"

    def extra_repr(self) -> str:
        return f"{self.describe()}, mode={self.mode}"


def track_block_weights(module: nn.Module) -> int:
    """Wrap every calibrated block-scaled weight quantizer below ``module`` in a
    :class:`TrackingBlockQuantizer`; returns how many."""
    n = 0
    for layer in module.modules():
        wq = getattr(layer, "weight_quantizer", None) if isinstance(layer, QuantMixin) else None
        if isinstance(wq, FakeQuantizer) and wq.is_block and wq.mode == "quant":
            layer.weight_quantizer = TrackingBlockQuantizer(wq)
            n += 1
    return n


@torch.no_grad()
def freeze_block_weights(module: nn.Module) -> int:
    """Convert: put every tracked quantizer's FakeQuantizer back, its block scales computed
    from the layer's final (transformed) weight; returns how many."""
    n = 0
    for layer in module.modules():
        wq = getattr(layer, "weight_quantizer", None) if isinstance(layer, QuantMixin) else None
        if isinstance(wq, TrackingBlockQuantizer):
            layer.weight_quantizer = wq.inner
            wq.inner.calibrate_from(layer.transformed_weight())
            n += 1
    return n


def fixed_format_quantizers(module: nn.Module) -> int:
    """How many static non-integer quantizers keep their calibrated scale during QAT
    (per-tensor / per-channel minifloats), straight-through."""
    return sum(1 for m in module.modules() if isinstance(m, FakeQuantizer) and m.mode == "quant"
               and not m.is_block and not m.format.is_integer)
