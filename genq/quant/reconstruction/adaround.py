"""AdaRound (Nagel et al., 2020, arXiv:2004.10568): learn, for every weight, whether to round
its scaled value down or up, instead of rounding to nearest.

The weight on the integer grid is ``floor(w / s) + h(V)`` with the rectified sigmoid
``h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1)``, zeta = 1.1, gamma = -0.1
(eq. 23). ``V`` starts where ``h(V)`` equals the fractional part of ``w / s`` (the soft
weight equals the FP weight) and is trained on a reconstruction loss plus the regulariser
``sum 1 - |2 h(V) - 1|^beta`` (eq. 24), whose temperature ``beta`` is annealed from 20 to 2 so
that every ``h`` is driven to 0 or 1. :meth:`AdaRoundQuantizer.harden` then fixes the
decisions ``h in {0, 1}`` (``V >= 0`` rounds up).

Written here (not taken from a library) because the torch/torchao AdaRound prototypes do not
wrap genq's fake-quantized layers; it follows the BRECQ / Q-Diffusion code's constants.
"""

from __future__ import annotations

import torch
from torch import nn

ZETA, GAMMA = 1.1, -0.1


class AdaRoundQuantizer(nn.Module):
    """A weight quantizer with learnable rounding; scale and zero point stay fixed."""

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                 qmin: int, qmax: int) -> None:
        super().__init__()
        self.qmin, self.qmax = qmin, qmax
        self.bits = (qmax - qmin + 1).bit_length() - 1
        self.register_buffer("scale", scale.detach().clone())
        self.register_buffer("zero_point", zero_point.detach().clone())
        w = weight.detach() / self.scale
        rest = (w - torch.floor(w)).clamp(1e-6, 1 - 1e-6)
        self.alpha = nn.Parameter(-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1))
        self.soft = True
        self.mode = "quant"

    def rectified(self) -> torch.Tensor:
        """h(V) in [0, 1]: the soft rounding decision of every weight."""
        return torch.clamp(torch.sigmoid(self.alpha) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)

    def decisions(self) -> torch.Tensor:
        return self.rectified() if self.soft else (self.alpha >= 0).float()

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w_floor = torch.floor(weight.detach() / self.scale)
        q = torch.clamp(w_floor + self.decisions() + self.zero_point, self.qmin, self.qmax)
        return (q - self.zero_point) * self.scale

    def regulariser(self, beta: float) -> torch.Tensor:
        return (1 - (2 * self.rectified() - 1).abs().pow(beta)).sum()

    def harden(self) -> None:
        """Fix the rounding decisions to 0/1 and stop learning."""
        self.soft = False
        self.alpha.requires_grad_(False)

    def describe(self) -> str:
        return f"int{self.bits} adaround ({'soft' if self.soft else 'hard'})"


def beta_schedule(it: int, iters: int, warmup: float, start: float, end: float) -> float | None:
    """The regulariser temperature at step ``it``: None during warm-up, then linear decay
    from ``start`` to ``end`` (BRECQ's LinearTempDecay)."""
    first = int(warmup * iters)
    if it < first:
        return None
    ratio = (it - first) / max(1, iters - first)
    return end + (start - end) * max(0.0, 1.0 - ratio)


def adaround_layer(layer: nn.Module) -> AdaRoundQuantizer | None:
    """Swap ``layer``'s calibrated weight quantizer for an AdaRound one on the same grid."""
    wq = getattr(layer, "weight_quantizer", None)
    if wq is None or getattr(wq, "mode", None) != "quant" or isinstance(wq, AdaRoundQuantizer):
        return wq if isinstance(wq, AdaRoundQuantizer) else None
    if hasattr(wq, "full_qparams"):                       # a split (shortcut) weight quantizer
        scale, zp = wq.full_qparams(layer.weight_fp)
    else:
        scale, zp = wq.scale, wq.zero_point
    ada = AdaRoundQuantizer(layer.weight_fp, scale, zp, wq.qmin, wq.qmax)
    layer.weight_quantizer = ada
    return ada
