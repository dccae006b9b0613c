"""The one protocol every generator adapter follows, so that quantization, metrics and
timing treat GANs and diffusion models alike.

An adapter owns ``network`` (the nn.Module that gets quantized: a GAN generator, a
diffusion model's noise predictor) and knows how to turn a noise bank into images and into
calibration inputs for ``network``. Quantizing a model means quantizing a deep copy of the
adapter's ``network``; the FP adapter is never touched.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn


class GeneratorAdapter(ABC):
    """A generator behind one interface: noise bank in, images in [-1, 1] out."""

    family: ClassVar[str]
    network: nn.Module

    @property
    @abstractmethod
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one generated image."""

    @abstractmethod
    def make_noise(self, n: int, seed: int) -> torch.Tensor:
        """A reproducible noise bank of ``n`` samples (same seed, same tensor)."""

    @abstractmethod
    def sample(self, noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Generate one image per noise sample, in [-1, 1], shape (N, C, H, W)."""

    @abstractmethod
    def calibration_inputs(self, noise: torch.Tensor, batch_size: int = 256) -> list[tuple]:
        """Positional inputs of ``network``, as the FP model sees them while sampling."""

    @abstractmethod
    def checkpoint_config(self) -> dict[str, Any]:
        """The JSON config written next to the weights (constructor arguments)."""

    @abstractmethod
    def checkpoint_parts(self) -> dict[str, nn.Module]:
        """The modules whose tensors the checkpoint holds, by part name."""

    def save(self, folder: str | Path) -> Path:
        from genq.models.checkpoint import save_checkpoint

        return save_checkpoint(folder, self.checkpoint_parts(), self.checkpoint_config())

    def clone(self) -> "GeneratorAdapter":
        """A deep copy (the quantized model starts as one)."""
        return copy.deepcopy(self)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())
