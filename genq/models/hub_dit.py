"""A pretrained class-conditional DiT from diffusers' ``DiTPipeline`` (Peebles & Xie, 2023,
arXiv:2212.09748; e.g. facebook/DiT-XL-2-256): a ``DiTTransformer2DModel`` denoising the
latents of an ``AutoencoderKL`` (kept FP unless ``quant.components`` names ``vae_decoder``),
with classifier-free guidance (Ho & Salimans, 2022, arXiv:2207.12598).

Sampling is genq's one loop (:mod:`genq.models.sampler`) with DDIM (eta 0) built from the
pipeline's scheduler config, like ``model=hub_sd`` and for the same reasons: calibration needs
the transformer's inputs at every step, timestep-aware quantizers need the step context, and
the noise bank alone must fix every sample. Class labels are drawn from each noise row as in
``model=dit_digits`` (:func:`genq.models.guided_dit.labels_of_noise`), so the seed fixes them too;
the null class ``num_embeds_ada_norm`` is the unconditional pass. Guidance combines all
latent channels (``eps_u + s (eps_c - eps_u)``), as genq's DiT does; diffusers' ``DiTPipeline``
guides the first three only, a quirk it keeps from the original DiT code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.models.guided_dit import GuidedClassConditional
from genq.models.hub_diffusion import HubDiffusionAdapter


class HubDiTAdapter(GuidedClassConditional, HubDiffusionAdapter):
    """DiTPipeline's transformer and VAE, sampled by DDIM with guidance ``guidance_scale`` (1: none)."""

    pipeline_class = "DiTPipeline"   # type: ignore[assignment]
    network_role = "transformer"

    def __init__(self, transformer: nn.Module, scheduler_config: dict[str, Any], vae: nn.Module,
                 num_inference_steps: int = 50, guidance_scale: float = 4.0, latent_scale: float = 0.18215,
                 latent_shift: float = 0.0, source: dict[str, Any] | None = None) -> None:
        super().__init__(transformer, scheduler_config, num_inference_steps, vae, latent_scale, latent_shift, source)
        if guidance_scale < 1.0:
            raise GenqError(f"model.guidance_scale={guidance_scale} is below 1; accepted: 1 (no guidance, "
                            "the conditional pass alone) or more (classifier-free guidance).")
        if not self.network.config.num_embeds_ada_norm:
            raise GenqError("the DiT of this pipeline has no class embedding (num_embeds_ada_norm); "
                            "accepted: a class-conditional DiTTransformer2DModel.")
        self.guidance_scale = float(guidance_scale)
        self._labels: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return int(self.network.config.num_embeds_ada_norm)

    @property
    def null_class(self) -> int:
        return self.num_classes

    @property
    def noise_channels(self) -> int:
        return self.latent_shape[0]

    def components(self) -> dict[str, Any]:
        return {"transformer": self.network, "vae": self.vae}

    def checkpoint_config(self) -> dict[str, Any]:
        return {**super().checkpoint_config(), "guidance_scale": self.guidance_scale}
