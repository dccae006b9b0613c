"""Adapters of the full-size speed-only architectures (issue 20): each builds its diffusers
network from a published config with random weights and draws random conditioning of the
right shape, so a noise bank still determines every output, whatever the batch (sample
``i`` of a bank gets its conditioning from seed ``embed_seed + i``).

- :class:`SpeedUNetAdapter`: Stable Diffusion 1.5's ``UNet2DConditionModel`` (Rombach et al.,
  2022, arXiv:2112.10752), conditioned on random text embeddings (77 tokens, CLIP's length).
- :class:`SpeedDiTAdapter`: DiT-XL/2's ``DiTTransformer2DModel`` (Peebles & Xie, 2023,
  arXiv:2212.09748), class-conditional (random ImageNet labels); it predicts noise and a
  learned variance, of which DDIM uses the noise half.
- :class:`SpeedPixArtAdapter`: PixArt-Sigma's ``PixArtTransformer2DModel`` (Chen et al., 2024,
  arXiv:2403.04692), conditioned on random T5 caption embeddings (300 tokens, 4096 wide),
  without the resolution/aspect-ratio micro-conditions (Sigma's config turns them off).

All are sampled by DDIM (eta = 0) on the model's training schedule; there is no VAE and no
text encoder: the "images" are the final latents.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import (DDIMScheduler, DDPMScheduler, DiTTransformer2DModel, PixArtTransformer2DModel,
                       UNet2DConditionModel)
from torch import nn

from genq.models.base import device_and_dtype
from genq.models.diffusion import DiffusionAdapter

CLIP_TOKENS = 77          # SD 1.5's text encoder context length
T5_TOKENS = 300           # PixArt-Sigma's caption length
IMAGENET_CLASSES = 1000   # DiT-XL/2's class labels


def _seeded_rows(n: int, offset: int, seed: int, draw: Any) -> torch.Tensor:
    """``draw(generator)`` for samples ``offset .. offset + n - 1``, each from its own seed."""
    return torch.stack([draw(torch.Generator().manual_seed(seed + offset + i)) for i in range(n)])


class SpeedAdapter(DiffusionAdapter):
    """Common part: a network built from ``arch`` by :meth:`build`, the model's training schedule
    sampled by DDIM, provenance in ``source``."""

    network_class: str = ""

    def __init__(self, arch: dict[str, Any], scheduler: dict[str, Any], num_inference_steps: int,
                 source: str, embed_seed: int = 0) -> None:
        self.arch = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(arch).items()}
        self.scheduler_config = dict(scheduler)
        self.num_inference_steps = num_inference_steps
        self.network = self.build(self.arch).eval()
        self.source = source
        self.embed_seed = embed_seed

    def build(self, arch: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    @property
    def image_shape(self) -> tuple[int, int, int]:
        r = self.arch["sample_size"]
        r = r if isinstance(r, int) else r[0]
        return (self.arch["in_channels"], r, r)

    def training_scheduler(self) -> DDPMScheduler:
        return DDPMScheduler.from_config(self.scheduler_config)

    def sampling_scheduler(self) -> DDIMScheduler:
        scheduler = DDIMScheduler.from_config(self.scheduler_config)
        scheduler.set_timesteps(self.num_inference_steps)
        return scheduler

    def _random_embeddings(self, n: int, offset: int, tokens: int, dim: int) -> torch.Tensor:
        """Random conditioning embeddings (n, tokens, dim) of samples ``offset ..``."""
        device, dtype = device_and_dtype(self.network)
        rows = _seeded_rows(n, offset, self.embed_seed, lambda g: torch.randn(tokens, dim, generator=g))
        return rows.to(device=device, dtype=dtype)

    def _t_batch(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": self.network_class, "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config, "source": self.source}


class SpeedUNetAdapter(SpeedAdapter):
    """SD 1.5's UNet on random text embeddings ``randn(77, cross_attention_dim)``."""

    network_class = "UNet2DConditionModel"

    def build(self, arch: dict[str, Any]) -> nn.Module:
        return UNet2DConditionModel(**arch)

    def condition(self, n: int, offset: int) -> torch.Tensor:
        return self._random_embeddings(n, offset, CLIP_TOKENS, self.arch["cross_attention_dim"])

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        return (), {"sample": x.to(dtype), "timestep": self._t_batch(x, t), "encoder_hidden_states": cond}

    def describe_sampler(self) -> str | None:
        return f"{super().describe_sampler()}, random text embeddings ({CLIP_TOKENS} tokens)"


class SpeedDiTAdapter(SpeedAdapter):
    """DiT-XL/2 on random class labels in ``[0, 1000)``; DDIM takes the noise half of its
    output (the other half is the learned variance)."""

    network_class = "DiTTransformer2DModel"
    network_role = "transformer"

    def build(self, arch: dict[str, Any]) -> nn.Module:
        return DiTTransformer2DModel(**arch)

    def condition(self, n: int, offset: int) -> torch.Tensor:
        device, _ = device_and_dtype(self.network)
        classes = self.arch.get("num_embeds_ada_norm") or IMAGENET_CLASSES
        rows = _seeded_rows(n, offset, self.embed_seed,
                            lambda g: torch.randint(0, classes, (), generator=g))
        return rows.to(device=device)

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        return (), {"hidden_states": x.to(dtype), "timestep": self._t_batch(x, t), "class_labels": cond}

    def postprocess(self, output: Any) -> torch.Tensor:
        sample = output.sample if hasattr(output, "sample") else output
        return sample[:, : self.arch["in_channels"]].float()

    def describe_sampler(self) -> str | None:
        return f"{super().describe_sampler()}, random class labels, noise half of the learned-sigma output"


class PixArtNetwork(nn.Module):
    """PixArt's transformer called with tensors only: Sigma's config has no micro-conditions,
    but diffusers' ``AdaLayerNormSingle`` still unpacks ``added_cond_kwargs``, so they are
    given here (an export-friendly signature: hidden states, caption embeddings, timestep)."""

    def __init__(self, transformer: PixArtTransformer2DModel) -> None:
        super().__init__()
        self.transformer = transformer

    @property
    def config(self) -> Any:
        return self.transformer.config

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                timestep: torch.Tensor, encoder_attention_mask: torch.Tensor | None = None,
                resolution: torch.Tensor | None = None, aspect_ratio: torch.Tensor | None = None) -> torch.Tensor:
        """The transformer's output tensor; ``encoder_attention_mask`` (the caption's padding)
        and PixArt-alpha's micro-conditions (``resolution``, ``aspect_ratio``) are optional
        tensors (model=hub_transformer_t2i passes them)."""
        out = self.transformer(hidden_states, encoder_hidden_states=encoder_hidden_states, timestep=timestep,
                               encoder_attention_mask=encoder_attention_mask,
                               added_cond_kwargs={"resolution": resolution, "aspect_ratio": aspect_ratio})
        return out.sample


class SpeedPixArtAdapter(SpeedDiTAdapter):
    """PixArt-Sigma on random caption embeddings ``randn(300, caption_channels)``; DDIM takes
    the noise half of its learned-sigma output."""

    network_class = "PixArtTransformer2DModel"

    def build(self, arch: dict[str, Any]) -> nn.Module:
        return PixArtNetwork(PixArtTransformer2DModel(**arch))

    def condition(self, n: int, offset: int) -> torch.Tensor:
        return self._random_embeddings(n, offset, T5_TOKENS, self.arch["caption_channels"])

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        return (), {"hidden_states": x.to(dtype), "encoder_hidden_states": cond, "timestep": self._t_batch(x, t)}

    def describe_sampler(self) -> str | None:
        return f"DDIM eta=0, {self.num_inference_steps} steps, random caption embeddings ({T5_TOKENS} tokens)"
