"""Full-size architectures for speed and kernel coverage only (issue 20): a published
config (a small JSON file in ``genq/models/speed_configs``), random weights from a fixed
seed, random conditioning of the right shape. Speed and coverage do not depend on trained
weights, so these answer "what does W8A8 buy on this architecture?" offline; they never
enter a quality study (a ``speed_*`` model skips scoring by itself, genq.run).

``speed_sd15_unet``: Stable Diffusion 1.5's ``UNet2DConditionModel`` (Rombach et al., 2022,
arXiv:2112.10752) on 4-channel latents, conditioned on random text embeddings
(batch, 77, cross_attention_dim) in place of CLIP's, sampled by DDIM (eta = 0) with SD 1.5's
training schedule. No VAE: the "images" are the final latents.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel

from genq.errors import GenqError
from genq.models.diffusion import DiffusionAdapter

SPEED_PREFIX = "speed_"
# model name -> (config file in genq/models/speed_configs, diffusers class)
SPEED_MODELS = {"speed_sd15_unet": ("sd15_unet.json", UNet2DConditionModel)}
TEXT_TOKENS = 77          # CLIP's context length (SD 1.5's text encoder)


def is_speed_model(name: str) -> bool:
    """A speed-only model (random weights; genq.run skips scoring for it)."""
    return str(name).startswith(SPEED_PREFIX)


def speed_config(file: str) -> dict[str, Any]:
    """The published architecture config shipped as ``genq/models/speed_configs/<file>``
    (keys starting with ``_`` are provenance, not constructor arguments)."""
    text = (resources.files("genq") / "models" / "speed_configs" / file).read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


class SpeedUNetAdapter(DiffusionAdapter):
    """A ``UNet2DConditionModel`` from a config dict, conditioned on random embeddings: noise
    sample ``i`` of a bank gets embedding ``randn(77, cross_attention_dim)`` drawn from seed
    ``embed_seed + i``, so a noise bank still determines every output, whatever the batch."""

    def __init__(self, arch: dict[str, Any], scheduler: dict[str, Any], num_inference_steps: int,
                 source: str, embed_seed: int = 0) -> None:
        self.arch = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(arch).items()}
        self.scheduler_config = dict(scheduler)
        self.num_inference_steps = num_inference_steps
        self.network = UNet2DConditionModel(**self.arch).eval()
        self.source = source
        self.embed_seed = embed_seed

    def training_scheduler(self) -> DDPMScheduler:
        return DDPMScheduler.from_config(self.scheduler_config)

    def sampling_scheduler(self) -> DDIMScheduler:
        scheduler = DDIMScheduler.from_config(self.scheduler_config)
        scheduler.set_timesteps(self.num_inference_steps)
        return scheduler

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        """The network's device and dtype; (CPU, float32) for a backend's stand-in network
        that holds no parameters (genq.bench.backends.runner.BackendNetwork)."""
        p = next(self.network.parameters(), None)
        return (p.device, p.dtype) if p is not None else (torch.device("cpu"), torch.float32)

    def prepare_latents(self, x: torch.Tensor, scheduler: Any) -> torch.Tensor:
        device, _ = self._device_dtype()
        return x.to(device=device, dtype=torch.float32) * scheduler.init_noise_sigma

    def condition(self, n: int, offset: int) -> torch.Tensor:
        """Random text embeddings (n, 77, cross_attention_dim) of samples ``offset ..``."""
        device, dtype = self._device_dtype()
        dim = self.arch["cross_attention_dim"]
        rows = [torch.randn(TEXT_TOKENS, dim, generator=torch.Generator().manual_seed(self.embed_seed + offset + i))
                for i in range(n)]
        return torch.stack(rows).to(device=device, dtype=dtype)

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor,
                       cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = self._device_dtype()
        t_batch = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        return (), {"sample": x.to(dtype), "timestep": t_batch, "encoder_hidden_states": cond}

    def describe_sampler(self) -> str | None:
        return f"{super().describe_sampler()}, random text embeddings ({TEXT_TOKENS} tokens)"

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "UNet2DConditionModel", "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config, "source": self.source}


def load_speed_model(model_cfg: Any, arch_overrides: dict[str, Any], init_seed: int = 0) -> SpeedUNetAdapter:
    """The speed-only model ``model_cfg.name``: its shipped config with ``arch_overrides``
    (model.arch, plus model.tiny_arch under model.tiny) on top, random weights from torch's
    global RNG (genq.models.registry.load_generator seeds it with ``init_seed`` around this
    call); the random text embeddings are drawn from ``init_seed`` too."""
    name = model_cfg.name
    if name not in SPEED_MODELS:
        raise GenqError(f"model={name!r} is not a speed model; accepted: {', '.join(SPEED_MODELS)}.")
    if model_cfg.weights is not None:
        raise GenqError(f"model={name} is randomly initialised from its published config; "
                        f"model.weights={model_cfg.weights!r} does not apply (accepted: null).")
    file, _ = SPEED_MODELS[name]
    arch = {**speed_config(file), **arch_overrides}
    try:
        return SpeedUNetAdapter(arch, dict(model_cfg.scheduler), model_cfg.num_inference_steps,
                                source=f"random init ({file})", embed_seed=init_seed)
    except (TypeError, ValueError) as err:
        raise GenqError(f"model={name}: architecture {arch!r} is invalid ({err}).") from err
