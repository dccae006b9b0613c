"""StyleGAN2 adapter (Karras et al., 2020, arXiv:1912.04958): a noise bank row is the latent z
and every synthesis layer's per-pixel noise, flattened (``StyleGAN2Generator.input_dim``);
images come from one pass of the EMA generator, truncated by ``truncation`` (1: none)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.models.base import GeneratorAdapter
from genq.models.sampler import NetworkCall
from genq.models.stylegan import StyleGAN2Discriminator, StyleGAN2Generator

#: generator arch keys the discriminator shares
_D_KEYS = ("channels_base", "channels_max", "channels", "resolution")


class StyleGANAdapter(GeneratorAdapter):
    """The EMA generator (``network``, the one sampled and quantized) and, when trained by genq,
    the discriminator (QAT's adversarial term). The mapping network and the style affines are
    the layer group ``mapping``/``*.affine`` (see docs/models.md)."""

    family = "gan"
    corrections = ("bias_correction",)   # genq.quant.gan_correction; no BatchNorm to re-estimate

    def __init__(self, arch: dict[str, Any], discriminator: bool = True, truncation: float = 1.0) -> None:
        self.arch = dict(arch)
        self.network = StyleGAN2Generator(**self.arch).eval()
        self.truncation = truncation
        self.discriminator = None
        if discriminator:
            d_arch = {k: v for k, v in self.arch.items() if k in _D_KEYS}
            self.discriminator = StyleGAN2Discriminator(**d_arch).eval()

    @property
    def truncation(self) -> float:
        return self.network.truncation

    @truncation.setter
    def truncation(self, psi: float) -> None:
        self.network.truncation = float(psi)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        r = self.arch.get("resolution", 16)
        return (self.arch.get("channels", 1), r, r)

    def make_noise(self, n: int, seed: int) -> torch.Tensor:
        return self.network.random_inputs(n, torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.network.eval()
        return torch.cat([self.network(x) for x in noise.split(batch_size)]).clamp(-1, 1)

    def calibration_calls(self, noise: torch.Tensor, batch_size: int = 256) -> list[NetworkCall]:
        """One call per batch of noise rows (a GAN has no timestep)."""
        return [NetworkCall((x,)) for x in noise.split(batch_size)]

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """BRECQ's blocks: the mapping network and each synthesis block (one resolution)."""
        blocks = {"mapping": "mapping"}
        blocks.update({f"synthesis.{i}": "synthesis_block" for i in range(len(network.synthesis))})
        return blocks

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "StyleGAN2", "family": self.family, "arch": self.arch}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        parts: dict[str, nn.Module] = {"generator": self.network}
        if self.discriminator is not None:
            parts["discriminator"] = self.discriminator
        return parts
