"""Class-conditional diffusion transformer adapter: a diffusers ``DiTTransformer2DModel``
(Peebles & Xie, 2023, DiT, arXiv:2212.09748: patch embedding, adaLN-Zero conditioning on
timestep + class, self-attention, MLP) sampled by the shared DDIM loop
(:mod:`genq.models.sampler`) with classifier-free guidance (Ho & Salimans, 2022,
arXiv:2207.12598).

Class labels: diffusers' ``LabelEmbedding`` holds one more row than there are classes, the
null class ``num_embeds_ada_norm`` that label dropout trains (10% of the training labels)
and the unconditional pass uses. Noise sample ``i``'s class is drawn from its own noise
(a hash of its values seeds the draw), so a noise bank (seed) fixes every sample's class,
whatever the batch size, the sampling shard or the adapter copy that samples it.

Guidance: ``guidance_scale`` 1 runs the conditional pass alone; above 1 each step runs the
same network on [unconditional; conditional] rows and combines the noise predictions as
``eps_u + s (eps_c - eps_u)``; the calibration calls are that doubled batch, as the
network sees it.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import DiTTransformer2DModel
from torch import nn

from genq.errors import GenqError
from genq.models.diffusion import DEFAULT_SCHEDULER, DiffusionAdapter
from genq.models.guided_dit import GuidedClassConditional


class DiTAdapter(GuidedClassConditional, DiffusionAdapter):
    """DiTTransformer2DModel + DDPM training schedule, sampled by DDIM with classifier-free
    guidance ``guidance_scale`` (1: none)."""

    network_role = "transformer"

    def __init__(self, arch: dict[str, Any], scheduler: dict[str, Any] | None = None,
                 num_inference_steps: int = 50, guidance_scale: float = 1.0) -> None:
        if guidance_scale < 1.0:
            raise GenqError(f"model.guidance_scale={guidance_scale} is below 1; accepted: 1 (no guidance, "
                            "the conditional pass alone) or more (classifier-free guidance).")
        self.arch = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(arch).items()
                     if not k.startswith("_")}
        if not self.arch.get("num_embeds_ada_norm"):
            raise GenqError(f"model.arch.num_embeds_ada_norm={self.arch.get('num_embeds_ada_norm')!r}; "
                            "accepted: the number of classes (a positive integer).")
        self.scheduler_config = dict(DEFAULT_SCHEDULER if scheduler is None else scheduler)
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = float(guidance_scale)
        self.network = DiTTransformer2DModel(**self.arch).eval()
        self._labels: torch.Tensor | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        r = self.network.config.sample_size
        return (self.network.config.in_channels, r, r)

    @property
    def num_classes(self) -> int:
        return int(self.arch["num_embeds_ada_norm"])

    @property
    def null_class(self) -> int:
        """The label of the unconditional pass (diffusers' extra embedding row)."""
        return self.num_classes

    @property
    def noise_channels(self) -> int:
        return self.image_shape[0]

    # --- training (genq.train.diffusion) --------------------------------------------------
    def training_prediction(self, x_t: torch.Tensor, t: torch.Tensor,
                            labels: torch.Tensor | None) -> torch.Tensor:
        """The predicted noise in training mode (diffusers drops labels to the null class with
        the embedding's dropout probability)."""
        if labels is None:
            raise GenqError("training model=dit_digits needs class labels; the digits dataset has them.")
        return self.network(hidden_states=x_t, timestep=t, class_labels=labels).sample[:, : x_t.shape[1]]

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "DiTTransformer2DModel", "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        return {"transformer": self.network}
