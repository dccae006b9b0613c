"""A pretrained class-conditional DiT from diffusers' ``DiTPipeline`` (Peebles & Xie, 2023,
arXiv:2212.09748; e.g. facebook/DiT-XL-2-256): a ``DiTTransformer2DModel`` denoising the
latents of an ``AutoencoderKL`` (kept FP unless ``quant.components`` names ``vae_decoder``),
with classifier-free guidance (Ho & Salimans, 2022, arXiv:2207.12598).

Sampling is genq's one loop (:mod:`genq.models.sampler`) with DDIM (eta 0) built from the
pipeline's scheduler config, like ``model=hub_sd`` and for the same reasons: calibration needs
the transformer's inputs at every step, timestep-aware quantizers need the step context, and
the noise bank alone must fix every sample. Class labels are drawn from each noise row as in
``model=dit_digits`` (:func:`genq.models.dit.labels_of_noise`), so the seed fixes them too;
the null class ``num_embeds_ada_norm`` is the unconditional pass. Guidance combines all
latent channels (``eps_u + s (eps_c - eps_u)``), as genq's DiT does; diffusers' ``DiTPipeline``
guides the first three only, a quirk it keeps from the original DiT code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.models.base import device_and_dtype
from genq.models.dit import labels_of_noise
from genq.models.hub_diffusion import HubDiffusionAdapter


class HubDiTAdapter(HubDiffusionAdapter):
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
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    def labels(self, noise: torch.Tensor) -> torch.Tensor:
        """The class of every noise sample (a function of the noise row alone)."""
        return labels_of_noise(noise, self.num_classes)

    # --- the sampler loop's hooks ---------------------------------------------------------
    def denoise(self, x: torch.Tensor, offset: int = 0, record: list | None = None,
                callbacks: Any = ()) -> torch.Tensor:
        from genq.models.sampler import denoise

        self._labels = self.labels(x)
        try:
            return denoise(self, x, offset, record, callbacks)
        finally:
            self._labels = None

    def condition(self, n: int, offset: int) -> torch.Tensor:
        """class_labels of one batch: [null; classes] with guidance, the classes without."""
        if self._labels is None or len(self._labels) != n:
            raise GenqError("HubDiTAdapter.condition is called by HubDiTAdapter.denoise, which knows the noise.")
        device, _ = device_and_dtype(self.network)
        labels = self._labels
        if self.guided:
            labels = torch.cat([torch.full_like(labels, self.null_class), labels])
        return labels.to(device)

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        if self.guided:
            x = torch.cat([x, x])
        t_batch = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        return (), {"hidden_states": x.to(dtype), "timestep": t_batch, "class_labels": cond}

    def postprocess(self, output: Any) -> torch.Tensor:
        """The noise half of the learned-sigma output, guided."""
        eps = output.sample[:, : self.latent_shape[0]].float()
        if not self.guided:
            return eps
        uncond, cond = eps.chunk(2)
        return uncond + self.guidance_scale * (cond - uncond)

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """diffusers' ``BasicTransformerBlock`` modules: DiT blocks (adaLN-Zero, attention, MLP)."""
        from diffusers.models.attention import BasicTransformerBlock

        return {name: "dit_block" for name, mod in network.named_modules()
                if name and isinstance(mod, BasicTransformerBlock)}

    def describe_sampler(self) -> str | None:
        guidance = f"guidance {self.guidance_scale}" if self.guided else "no guidance"
        return f"DDIM eta=0, {self.num_inference_steps} steps, class-conditional, {guidance}"

    def components(self) -> dict[str, Any]:
        return {"transformer": self.network, "vae": self.vae}

    def checkpoint_config(self) -> dict[str, Any]:
        return {**super().checkpoint_config(), "guidance_scale": self.guidance_scale}
