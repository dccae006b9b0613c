"""DCGAN (Radford et al., 2016, arXiv:1511.06434): a generator of transposed convolutions
with BatchNorm and ReLU and a tanh output, and a strided-convolution discriminator with
LeakyReLU. Sized here for small square images (16x16 digits by default).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _num_upsamplings(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if n < 1 or 4 * 2 ** n != resolution:
        raise ValueError(f"resolution={resolution} is not supported; accepted: 8, 16, 32, 64, ...")
    return n


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, channels, resolution, resolution) in [-1, 1]."""

    def __init__(self, latent_dim: int = 64, base_channels: int = 64, channels: int = 1,
                 resolution: int = 16) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        n_up = _num_upsamplings(resolution)
        width = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(inplace=True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (N, channels, R, R) -> real/fake logit (N,). Spectral normalisation (Miyato et
    al., 2018, arXiv:1802.05957) replaces BatchNorm: on 1.4k training images it keeps the
    discriminator from overpowering the generator. Only the generator is ever quantized."""

    def __init__(self, base_channels: int = 64, channels: int = 1, resolution: int = 16) -> None:
        super().__init__()
        n_down = _num_upsamplings(resolution)
        width = base_channels
        sn = nn.utils.spectral_norm
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(n_down - 1):
            layers += [sn(nn.Conv2d(width, width * 2, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [sn(nn.Conv2d(width, 1, 4, 1, 0))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
