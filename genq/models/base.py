"""The one protocol every generator adapter follows, so that quantization, metrics and
timing treat GANs and diffusion models alike.

An adapter owns ``network`` (the nn.Module that gets quantized: a GAN generator, a
diffusion model's noise predictor) and knows how to turn a noise bank into images and into
calibration inputs for ``network``. Quantizing a model means quantizing a deep copy of the
adapter's ``network``; the FP adapter is never touched.

What differs between families is said here, by methods with one-pass-generator defaults that
a family overrides (the pipelines never branch on ``family``): whether the network is a
timestep-conditioned denoiser (:meth:`GeneratorAdapter.num_train_timesteps`), which
post-calibration corrections apply (``corrections``), which modules BRECQ reconstructs as
blocks (:meth:`GeneratorAdapter.reconstruction_blocks`), how QAT probes and labels its data,
and how the record names the sampler. ``docs/extending.md`` walks through a new family.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from genq.models.sampler import NetworkCall


def device_and_dtype(network: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where ``network`` computes: its first parameter's device and dtype; a network that holds
    none (a real backend's stand-in, which moves inputs itself) takes float32 inputs on the CPU."""
    p = next(network.parameters(), None)
    return (p.device, p.dtype) if p is not None else (torch.device("cpu"), torch.float32)


class GeneratorAdapter(ABC):
    """A generator behind one interface: noise bank in, images in [-1, 1] out."""

    family: ClassVar[str]
    network: nn.Module
    #: post-calibration corrections of ``quant.reconstruction`` that apply to this family
    corrections: ClassVar[tuple[str, ...]] = ()
    #: what the calibration data are, as the QAT record names them
    calibration_source: ClassVar[str] = "latents"
    #: noise samples of QAT's held-out probe
    probe_samples: ClassVar[int] = 256
    #: what ``network`` is, as ``quant.components`` names it: generator | unet | transformer
    network_role: ClassVar[str] = "generator"

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
    def calibration_calls(self, noise: torch.Tensor, batch_size: int = 256) -> list["NetworkCall"]:
        """The calls of ``network`` (args, kwargs, timestep, step) as the FP model makes them
        while sampling ``noise``: the calibration data."""

    def calibration_inputs(self, noise: torch.Tensor, batch_size: int = 256) -> list[tuple]:
        """:meth:`calibration_calls` with every input positional (``network(*inputs)``)."""
        return [c.positional(self.network) for c in self.calibration_calls(noise, batch_size)]

    # --- family traits the pipelines ask for (defaults: a one-pass generator) -------------
    def num_train_timesteps(self) -> int | None:
        """T of a timestep-conditioned denoiser's training schedule; None: one pass, no timestep."""
        return None

    @property
    def is_denoiser(self) -> bool:
        """The network is called once per sampler step with a timestep."""
        return self.num_train_timesteps() is not None

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str] | None:
        """Module name -> block kind of the blocks BRECQ reconstructs as one unit in
        ``network`` (a quantized copy of :attr:`network`); None: the generic search
        (runs of ``nn.Sequential`` children, every other layer alone)."""
        return None

    def describe_sampler(self) -> str | None:
        """How the record names the sampler (None: one forward pass, nothing to say)."""
        return None

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
