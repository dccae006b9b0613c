"""GAN adapter: latents from a standard normal, images from one generator pass."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.models.base import GeneratorAdapter
from genq.models.dcgan import DCGANDiscriminator, DCGANGenerator
from genq.models.sampler import NetworkCall


class GANAdapter(GeneratorAdapter):
    """A DCGAN generator (and, when trained by genq, its discriminator)."""

    family = "gan"
    corrections = ("bias_correction", "bn_reestimate")   # genq.quant.gan_correction

    def __init__(self, arch: dict[str, Any], discriminator: bool = True) -> None:
        self.arch = dict(arch)
        self.network = DCGANGenerator(**self.arch).eval()
        self.discriminator = None
        if discriminator:
            d_arch = {k: v for k, v in self.arch.items() if k in ("base_channels", "channels", "resolution")}
            self.discriminator = DCGANDiscriminator(**d_arch).eval()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        r = self.arch.get("resolution", 16)
        return (self.arch.get("channels", 1), r, r)

    def make_noise(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.network.latent_dim, generator=gen)

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.network.eval()
        return torch.cat([self.network(z) for z in noise.split(batch_size)]).clamp(-1, 1)

    def _inputs(self, z: torch.Tensor) -> torch.Tensor:
        """The generator's input for latents ``z``."""
        return z

    def calibration_calls(self, noise: torch.Tensor, batch_size: int = 256) -> list[NetworkCall]:
        """One call per batch of latents (a GAN has no timestep)."""
        return [NetworkCall((self._inputs(z),)) for z in noise.split(batch_size)]

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "DCGAN", "family": self.family, "arch": self.arch}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        parts: dict[str, nn.Module] = {"generator": self.network}
        if self.discriminator is not None:
            parts["discriminator"] = self.discriminator
        return parts
