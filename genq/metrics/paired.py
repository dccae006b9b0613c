"""Paired metrics between quantized and FP samples generated from the same noise.

``feature_lpips`` is the LPIPS distance of Zhang et al. (2018, arXiv:1801.03924) in its
uncalibrated ("baseline", uniform layer weights) form, over the conv activations of a
network: unit-normalise each feature vector along channels, take the squared difference,
average over space and sum over layers. Written here because torchmetrics' LPIPS accepts
only its AlexNet/VGG/SqueezeNet backbones, whose weights need the internet; the record
names the network used.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio


def _unit(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


@torch.no_grad()
def feature_lpips(network: torch.nn.Module, a: torch.Tensor, b: torch.Tensor,
                  batch_size: int = 500) -> torch.Tensor:
    """Per-pair LPIPS-style distance (N,) using ``network.feature_maps`` (images in [-1, 1])."""
    out = []
    for xa, xb in zip(a.split(batch_size), b.split(batch_size)):
        d = torch.zeros(xa.shape[0])
        for fa, fb in zip(network.feature_maps(xa.float()), network.feature_maps(xb.float())):
            d += (_unit(fa) - _unit(fb)).pow(2).sum(dim=1).mean(dim=(1, 2))
        out.append(d)
    return torch.cat(out)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Per-pair PSNR in dB (N,) for images in [-1, 1] (identical pairs give inf)."""
    return peak_signal_noise_ratio(a.float(), b.float(), data_range=data_range, reduction="none",
                                   dim=(1, 2, 3))
