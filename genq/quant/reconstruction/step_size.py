"""Learned activation step sizes after the weights are fixed (the second phase of BRECQ /
Q-Diffusion reconstruction): the static activation scales of a block become trainable and
follow the LSQ gradient (Esser et al., 2020, arXiv:1902.08153) that
:func:`genq.quant.primitives.fake_quantize` provides, on the block-output loss.

Kept in the reconstruction package (a generic LSQ quantizer for QAT lives elsewhere): here
only the calibrated scales of genq's own quantizers are tuned; zero points stay fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.modules import QuantMixin
from genq.quant.primitives import EPS
from genq.quant.quantizer import FakeQuantizer
from genq.quant.timestep_quant import TimestepFakeQuantizer


def activation_quantizers(module: nn.Module) -> list[FakeQuantizer]:
    """The static activation FakeQuantizers of the quantized layers inside ``module``."""
    found: list[FakeQuantizer] = []
    for m in module.modules():
        if isinstance(m, QuantMixin) and getattr(m, "input_quantizer", None) is not None:
            found += [q for q in m.input_quantizer.modules()
                      if isinstance(q, FakeQuantizer) and not q.dynamic]
    return found


def set_act_mode(acts: list[FakeQuantizer], mode: "str | list[str]") -> list[str]:
    """Set every quantizer's mode (one mode, or one per quantizer); return the old modes."""
    old = [q.mode for q in acts]
    for i, q in enumerate(acts):
        q.mode = mode if isinstance(mode, str) else mode[i]
    return old


def _scale_of(q: FakeQuantizer) -> torch.Tensor:
    return q.bucket_scale if isinstance(q, TimestepFakeQuantizer) else q.scale


def learn_step_sizes(run: Callable[..., torch.Tensor], data: Any, acts: list[FakeQuantizer], cfg: Any,
                     gen: torch.Generator, loss_fn: Callable, bar: Any = None) -> None:
    """Adam on the scales of ``acts`` (mode quant), ``cfg.act_iters`` steps of ``cfg.batch_size``."""
    scales = [_scale_of(q) for q in acts if q.mode == "quant" and _scale_of(q) is not None]
    if not scales:
        return
    for s in scales:
        s.requires_grad_(True)
    opt = torch.optim.Adam(scales, lr=cfg.act_lr)
    n = len(data)
    try:
        for it in range(cfg.act_iters):
            rows = torch.randint(n, (min(cfg.batch_size, n),), generator=gen)
            args, kwargs, target, t = data.batch(rows)
            with torch.enable_grad():
                loss = loss_fn(run(args, kwargs, t), target)
                if not torch.isfinite(loss):
                    raise GenqError(f"learning activation step sizes produced a non-finite loss "
                                    f"({float(loss)}) at iteration {it}; lower "
                                    "quant.reconstruction.act_lr.")
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            with torch.no_grad():
                for s in scales:
                    s.clamp_(min=EPS)
            if bar is not None:
                bar.update(1)
    finally:
        for s in scales:
            s.requires_grad_(False)
            s.grad = None
