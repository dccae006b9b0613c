"""Diffusion adapter: a diffusers ``UNet2DModel`` noise predictor (Ho et al., 2020, DDPM,
arXiv:2006.11239) sampled with diffusers' DDIM scheduler (Song et al., 2021,
arXiv:2010.02502) at eta = 0, so that a noise bank determines the samples exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch import nn

from genq.models.base import GeneratorAdapter, device_and_dtype

DEFAULT_SCHEDULER = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                     "prediction_type": "epsilon", "clip_sample": True}


class DiffusionAdapter(GeneratorAdapter):
    """UNet2DModel + DDPM training schedule, sampled by DDIM with ``num_inference_steps``."""

    family = "diffusion"
    network_role = "unet"

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

    def training_prediction(self, x_t: torch.Tensor, t: torch.Tensor,
                            labels: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted noise of the network in training mode (genq.train.diffusion)."""
        return self.network(x_t, t).sample

    # --- the sampler loop's hooks (genq.models.sampler) ---------------------------------
    step_kwargs = {"eta": 0.0}

    def prepare_latents(self, x: torch.Tensor, scheduler: Any) -> torch.Tensor:
        """The starting latents: float32 on the network's device, scaled by the scheduler."""
        device, _ = device_and_dtype(self.network)
        return x.to(device=device, dtype=torch.float32) * scheduler.init_noise_sigma

    def condition(self, n: int, offset: int) -> Any:
        """What conditions noise samples ``offset .. offset + n - 1`` (None: unconditional)."""
        return None

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        """The denoiser's inputs at timestep ``t``, by keyword as diffusers' pipelines call it."""
        _, dtype = device_and_dtype(self.network)
        t_batch = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        return (), {"sample": x.to(dtype), "timestep": t_batch}

    def postprocess(self, output: Any) -> torch.Tensor:
        """The scheduler's model output (float32) from the network's output."""
        return output.sample.float()

    def denoise(self, x: torch.Tensor, offset: int = 0, record: list | None = None,
                callbacks: Any = ()) -> torch.Tensor:
        """Final latents from noise ``x`` (noise samples ``offset ..``) by the shared loop."""
        from genq.models.sampler import denoise

        return denoise(self, x, offset, record, callbacks)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> images (the identity in pixel space)."""
        return latents

    def sample(self, noise: torch.Tensor, batch_size: int = 256, callbacks: Any = ()) -> torch.Tensor:
        """Images in [-1, 1], one per noise sample; ``callbacks`` get ``(i, t)`` at every step."""
        self.network.eval()
        out, offset = [], 0
        for x in noise.split(batch_size):
            out.append(self.decode(self.denoise(x, offset, callbacks=callbacks)).clamp(-1, 1))
            offset += len(x)
        return torch.cat(out)

    def calibration_calls(self, noise: torch.Tensor, batch_size: int = 256) -> list:
        """The network call of every step of the FP DDIM trajectories started from ``noise``
        (batches of ``batch_size`` trajectories, in sampling order)."""
        self.network.eval()
        record: list = []
        offset = 0
        for x in noise.split(batch_size):
            self.denoise(x, offset, record)
            offset += len(x)
        return record

    # --- family traits --------------------------------------------------------------------
    # empirical bias correction (genq.quant.gan_correction): the calibration inputs span the
    # timesteps, so each layer's output shift is averaged over them
    corrections = ("bias_correction",)
    calibration_source = "fp_trajectory"
    probe_samples = 16

    def num_train_timesteps(self) -> int | None:
        return int(self.sampling_scheduler().config.num_train_timesteps)

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """diffusers' ``ResnetBlock2D`` and ``Attention`` modules (Q-Diffusion's
        ``BaseQuantBlock`` units, Li et al., 2023, arXiv:2302.04304)."""
        from diffusers.models.attention_processor import Attention
        from diffusers.models.resnet import ResnetBlock2D

        kinds = ((ResnetBlock2D, "resnet"), (Attention, "attention"))
        return {name: kind for name, mod in network.named_modules() if name
                for cls, kind in kinds if isinstance(mod, cls)}

    def describe_sampler(self) -> str | None:
        return f"DDIM eta=0, {self.num_inference_steps} steps"

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "UNet2DModel", "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        return {"unet": self.network}
