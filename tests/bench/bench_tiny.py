"""Tiny models for the backend tests: a DCGAN generator with BatchNorm (random running
statistics, so folding is exercised) and a two-level UNet with attention."""

from __future__ import annotations

import torch
from tiny_models import tiny_unet  # noqa: F401  (re-exported for the tests here)
from torch import nn

from genq.models.dcgan import DCGANGenerator


def tiny_dcgan() -> DCGANGenerator:
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=8, base_channels=8, channels=1, resolution=16).eval()
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(-1.5, 1.5)     # negative gains: the fold flips integer signs
            m.bias.data.uniform_(-0.5, 0.5)
    return g


def dcgan_args(n: int = 8) -> tuple:
    return (torch.randn(n, 8, generator=torch.Generator().manual_seed(1)),)


def unet_args(n: int = 4, t: int = 500) -> tuple:
    return (torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.full((n,), t))


def quantized(net: nn.Module, calib: list[tuple], **recipe) -> nn.Module:
    """A fake-quantized copy of ``net`` (genq.quant.quantize_), calibrated on ``calib``."""
    import copy

    from genq.quant import QuantRecipe, quantize_

    r = QuantRecipe(**{"w_bits": 8, "a_bits": 8, **recipe})
    q = copy.deepcopy(net)
    quantize_(q, r, calib=calib)
    return q


def output(net: nn.Module, args: tuple) -> torch.Tensor:
    with torch.no_grad():
        out = net(*args)
    return out.sample if hasattr(out, "sample") else out
