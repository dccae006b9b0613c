"""How an int8 convolution meets its input's zero point: two exact rewrites of a lowered Conv2d.

genq's static activations are asymmetric uint8 (code ``q = round(x / s) + z``), and a padded
convolution pads with real zero, the code ``z``. oneDNN's int8 convolution takes the source
zero point as a runtime argument and compensates for it at every output pixel, borders
included, which can be slower than the same convolution with ``z = 0``
(``scripts/bench_conv_zero_point.py`` prints the ratios per shape). The rewrites
keep the integer grid of the simulated model and change only what oneDNN sees:

- ``pad``: the zero padding moves in front of the convolution (``F.pad`` in float, before the
  input is quantized: real 0 becomes code ``z`` exactly), the convolution gets padding 0;
- ``fold``: additionally the input is shifted by ``c = z * s`` before it is quantized, so the
  codes are unchanged (``round((x + c) / s) = round(x / s) + z``) but oneDNN is told zero
  point 0, and the bias absorbs the shift: ``conv(x + c) = conv(x) + c * sum(W)`` per output
  channel (Jacob et al., 2018, arXiv:1712.05877, eq. 7, the zero-point terms of integer
  inference, here precomputed once instead of per call). The padding value becomes ``c``.

``implicit`` leaves the convolution as it is. Which is fastest depends on the shape (on the AMX
Xeon fold wins at 320 channels 32x32 and pad at 640-1280 channels 16x16 and below:
``results/kernels_fullsize/xeon_amx/conv_zero_point/shapes.md``); ``bench.conv_zero_point``
picks one for the whole model. ``fold`` is the default:
on Stable Diffusion 1.5's UNet (AMX Xeon, batch 1, int8 with bf16 around it, one process
each) it is 1.39x compiled bf16, ``pad`` 1.33x, ``implicit`` 1.15x
(``results/kernels_fullsize/xeon_amx/conv_zero_point``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genq.config.bench import CONV_ZERO_POINT_MODES as MODES


class PaddedConv2d(nn.Module):
    """``conv`` with its zero padding done by ``F.pad`` beforehand and, with ``shift`` != 0,
    the input shifted by ``shift`` and the bias corrected so that the output is unchanged."""

    def __init__(self, conv: nn.Conv2d, shift: float = 0.0) -> None:
        super().__init__()
        ph, pw = conv.padding
        self.pad = (pw, pw, ph, ph)
        self.shift = float(shift)
        self.conv = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                              conv.dilation, conv.groups, True)
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight)
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
            self.conv.bias.copy_(bias - self.shift * conv.weight.detach().sum(dim=(1, 2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shift:
            x = x + self.shift
        if any(self.pad):
            x = F.pad(x, self.pad, value=self.shift)
        return self.conv(x)


def rewrite_unsupported(conv: nn.Conv2d) -> str | None:
    """Why ``conv`` keeps oneDNN's own padding (None when it can be rewritten)."""
    if isinstance(conv.padding, str):
        return f"padding={conv.padding!r} (only explicit sizes)"
    if conv.padding_mode != "zeros":
        return f"padding_mode={conv.padding_mode!r} (only 'zeros')"
    return None


def rewrite(conv: nn.Conv2d, mode: str, a_scale: float, a_zero_point: int) -> tuple[nn.Module, int, str] | None:
    """The rewritten layer, the zero point oneDNN sees and a note, or None when ``mode`` leaves
    ``conv`` as it is (``implicit``, zero point 0, nothing to pad, or a padding it cannot move)."""
    if mode not in MODES:
        raise ValueError(f"conv zero-point mode {mode!r}; accepted: {MODES}")
    if mode == "implicit" or a_zero_point == 0 or rewrite_unsupported(conv):
        return None
    padded = any(conv.padding)
    if mode == "pad":
        if not padded:
            return None
        return PaddedConv2d(conv), a_zero_point, "zero padding moved before the int8 conv (F.pad)"
    note = f"activation zero point {a_zero_point} folded into the bias (input shifted by z*s)"
    return PaddedConv2d(conv, a_zero_point * a_scale), 0, note + (", padding by F.pad" if padded else "")
