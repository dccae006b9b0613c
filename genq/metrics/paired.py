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


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """Per-pair SSIM (Wang et al., 2004) (N,), torchmetrics with its standard settings
    (11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03). Images in [-1, 1] are mapped to
    [0, 1] with data_range 1 first: SSIM's luminance term is not shift invariant, so this
    is the number the usual [0, 1] / [0, 255] convention gives. None for images smaller
    than the window."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    if min(a.shape[-2:]) < 11:
        return None
    to01 = lambda x: ((x.float() + 1) / 2).clamp(0, 1)   # noqa: E731
    return structural_similarity_index_measure(to01(a), to01(b), data_range=1.0, reduction="none")
