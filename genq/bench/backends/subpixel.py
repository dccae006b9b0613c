"""ConvTranspose2d as a Conv2d followed by a pixel shuffle (sub-pixel convolution).

A stride-``s`` transposed convolution equals an ordinary stride-1 convolution with
``s*s`` times as many output channels, followed by depth-to-space (``pixel_shuffle``) and a
crop: Shi et al., 2016, "Is the deconvolution layer the same as a convolutional layer?"
(arXiv:1609.07009). genq uses it because the x86 int8 stack (PT2E X86InductorQuantizer and
its oneDNN ``qconv`` fusions) quantizes Conv2d with per-channel weights but has no int8
ConvTranspose2d; the rewrite is exact in floating point, and because every output channel
of the transposed layer becomes ``s*s`` output channels of the convolution that share its
weight scale, a per-output-channel int8 weight stays exactly representable.

Supported: groups = 1, dilation = 1, square or rectangular kernels and strides, any padding
and output padding. Anything else is refused with the reason (the caller keeps the layer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def subpixel_unsupported(mod: nn.ConvTranspose2d) -> str | None:
    """Why ``mod`` cannot be rewritten (None when it can)."""
    if mod.groups != 1:
        return f"groups={mod.groups} (only 1)"
    if tuple(mod.dilation) != (1, 1):
        return f"dilation={tuple(mod.dilation)} (only 1)"
    if mod.padding_mode != "zeros":
        return f"padding_mode={mod.padding_mode!r} (only 'zeros')"
    return None


class SubPixelConvTranspose2d(nn.Module):
    """Computes ``ConvTranspose2d(...)(x)`` as ``crop(pixel_shuffle(conv(x)))``.

    ``conv`` has weight (Cout*sh*sw, Cin, Jh, Jw) with J = ceil(K / s) and padding J - 1;
    output channel ``c*sh*sw + rh*sw + rw`` holds phase (rh, rw) of channel ``c``.
    ``channel_scale`` (optional, shape Cout) maps a per-output-channel vector of the
    transposed layer (e.g. its weight scales) to the convolution's channels.
    """

    def __init__(self, mod: nn.ConvTranspose2d, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        reason = subpixel_unsupported(mod)
        if reason is not None:
            raise ValueError(f"cannot rewrite {mod}: {reason}")
        w = (mod.weight if weight is None else weight).detach()      # (Cin, Cout, Kh, Kw)
        cin, cout, kh, kw = w.shape
        (sh, sw), (ph, pw) = tuple(mod.stride), tuple(mod.padding)
        jh, jw = math.ceil(kh / sh), math.ceil(kw / sw)
        # Pad the kernel to J*s taps so that tap k = r + s*j exists for every phase r.
        wp = F.pad(w, (0, jw * sw - kw, 0, jh * sh - kh))              # (Cin, Cout, Jh*sh, Jw*sw)
        wp = wp.view(cin, cout, jh, sh, jw, sw)                        # [.., j_h, r_h, j_w, r_w]
        wp = wp.flip(2).flip(4)                                        # conv taps m = J-1-j
        wc = wp.permute(1, 3, 5, 0, 2, 4).reshape(cout * sh * sw, cin, jh, jw)
        self.conv = nn.Conv2d(cin, cout * sh * sw, (jh, jw), padding=(jh - 1, jw - 1),
                              bias=mod.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(wc)
            if mod.bias is not None:
                self.conv.bias.copy_(mod.bias.detach().repeat_interleave(sh * sw))
        self.stride, self.padding = (sh, sw), (ph, pw)
        self.kernel_size = (kh, kw)
        self.output_padding = tuple(mod.output_padding)
        self.out_channels = cout

    def channel_map(self, per_out_channel: torch.Tensor) -> torch.Tensor:
        """A per-output-channel vector of the transposed layer, for the conv's channels."""
        return per_out_channel.repeat_interleave(self.stride[0] * self.stride[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        (sh, sw), (ph, pw), (kh, kw) = self.stride, self.padding, self.kernel_size
        out_h = (h - 1) * sh - 2 * ph + kh + self.output_padding[0]
        out_w = (w - 1) * sw - 2 * pw + kw + self.output_padding[1]
        y = self.conv(x)
        if sh == sw:
            y = F.pixel_shuffle(y, sh)
        else:
            n, _, qh, qw = y.shape
            y = y.view(n, self.out_channels, sh, sw, qh, qw).permute(0, 1, 4, 2, 5, 3)
            y = y.reshape(n, self.out_channels, qh * sh, qw * sw)
        if y.shape[-2] < ph + out_h or y.shape[-1] < pw + out_w:     # output_padding past the grid
            y = F.pad(y, (0, pw + out_w - y.shape[-1], 0, ph + out_h - y.shape[-2]))
        return y[..., ph:ph + out_h, pw:pw + out_w]


class ProjectionConvTranspose2d(nn.Module):
    """``ConvTranspose2d`` applied to a 1x1 input (a GAN's latent projection) as a Linear:
    ``y[n, co, kh, kw] = sum_ci x[n, ci] * w[ci, co, kh, kw] + b[co]``, then the padding crop.
    Exact, and without the (K-1)^2 zero taps a Conv2d rewrite would compute."""

    def __init__(self, mod: nn.ConvTranspose2d, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        w = (mod.weight if weight is None else weight).detach()       # (Cin, Cout, Kh, Kw)
        cin, cout, kh, kw = w.shape
        self.linear = nn.Linear(cin, cout * kh * kw, bias=mod.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(w.permute(1, 2, 3, 0).reshape(cout * kh * kw, cin))
            if mod.bias is not None:
                self.linear.bias.copy_(mod.bias.detach().repeat_interleave(kh * kw))
        self.shape = (cout, kh, kw)
        self.padding = tuple(mod.padding)

    def channel_map(self, per_out_channel: torch.Tensor) -> torch.Tensor:
        return per_out_channel.repeat_interleave(self.shape[1] * self.shape[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x.flatten(1)).view(x.shape[0], *self.shape)
        ph, pw = self.padding
        return y[..., ph:self.shape[1] - ph, pw:self.shape[2] - pw] if ph or pw else y


def projection_applies(mod: nn.ConvTranspose2d, input_hw: tuple[int, int] | None) -> bool:
    """True when ``mod`` sees 1x1 inputs and the Linear form is exact."""
    return (input_hw == (1, 1) and mod.groups == 1 and tuple(mod.output_padding) == (0, 0)
            and 2 * mod.padding[0] < mod.kernel_size[0] and 2 * mod.padding[1] < mod.kernel_size[1])
