"""Diffusion adapter: a diffusers ``UNet2DModel`` noise predictor (Ho et al., 2020, DDPM,
arXiv:2006.11239) sampled with diffusers' DDIM scheduler (Song et al., 2021,
arXiv:2010.02502) at eta = 0, so that a noise bank determines the samples exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch import nn

from genq.models.base import GeneratorAdapter

DEFAULT_SCHEDULER = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                     "prediction_type": "epsilon", "clip_sample": True}


class DiffusionAdapter(GeneratorAdapter):
    """UNet2DModel + DDPM training schedule, sampled by DDIM with ``num_inference_steps``."""

    family = "diffusion"

    def __init__(self, arch: dict[str, Any], scheduler: dict[str, Any] | None = None,
                 num_inference_steps: int = 50) -> None:
        self.arch = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(arch).items()
                     if not k.startswith("_")}
        self.scheduler_config = dict(DEFAULT_SCHEDULER if scheduler is None else scheduler)
        self.num_inference_steps = num_inference_steps
        self.network = UNet2DModel(**self.arch).eval()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        r = self.network.config.sample_size
        r = r if isinstance(r, int) else r[0]
        return (self.network.config.in_channels, r, r)

    def training_scheduler(self) -> DDPMScheduler:
        return DDPMScheduler(**self.scheduler_config)

    def sampling_scheduler(self) -> DDIMScheduler:
        scheduler = DDIMScheduler.from_config(self.training_scheduler().config)
        scheduler.set_timesteps(self.num_inference_steps)
        return scheduler

    def make_noise(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, *self.image_shape, generator=gen)

    @torch.no_grad()
    def _denoise(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        scheduler = self.sampling_scheduler()
        for t in scheduler.timesteps:
            t_batch = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
            if record is not None:
                record.append((x.clone(), t_batch))
            eps = self.network(x, t_batch).sample
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
        return x

    def sample(self, noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.network.eval()
        return torch.cat([self._denoise(x) for x in noise.split(batch_size)]).clamp(-1, 1)

    def calibration_inputs(self, noise: torch.Tensor, batch_size: int = 256) -> list[tuple]:
        """(x_t, t) at every step of the FP DDIM trajectory started from ``noise``."""
        self.network.eval()
        record: list[tuple] = []
        for x in noise.split(batch_size):
            self._denoise(x, record)
        return record

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "UNet2DModel", "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        return {"unet": self.network}
