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

import hashlib
from typing import Any

import torch
from diffusers import DiTTransformer2DModel
from torch import nn

from genq.errors import GenqError
from genq.models.base import device_and_dtype
from genq.models.diffusion import DEFAULT_SCHEDULER, DiffusionAdapter


def labels_of_noise(noise: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One class per noise row, drawn uniformly by a generator seeded from a hash of the row's
    float32 bytes: a function of the row alone (hence of the bank's seed and the row's index)."""
    rows = noise.detach().to(device="cpu", dtype=torch.float32).reshape(len(noise), -1).numpy()
    seeds = [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little") >> 1
             for r in rows]
    return torch.tensor([int(torch.randint(0, num_classes, (), generator=torch.Generator().manual_seed(s)))
                         for s in seeds], dtype=torch.long)


class DiTAdapter(DiffusionAdapter):
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
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    def labels(self, noise: torch.Tensor) -> torch.Tensor:
        """The class of every noise sample (see :func:`labels_of_noise`)."""
        return labels_of_noise(noise, self.num_classes)

    # --- training (genq.train.diffusion) --------------------------------------------------
    def training_prediction(self, x_t: torch.Tensor, t: torch.Tensor,
                            labels: torch.Tensor | None) -> torch.Tensor:
        """The predicted noise in training mode (diffusers drops labels to the null class with
        the embedding's dropout probability)."""
        if labels is None:
            raise GenqError("training model=dit_digits needs class labels; the digits dataset has them.")
        return self.network(hidden_states=x_t, timestep=t, class_labels=labels).sample[:, : x_t.shape[1]]

    # --- the sampler loop's hooks (genq.models.sampler) ---------------------------------
    def denoise(self, x: torch.Tensor, offset: int = 0, record: list | None = None,
                callbacks: Any = ()) -> torch.Tensor:
        """The shared loop, with the classes of ``x``'s noise rows as its condition."""
        from genq.models.sampler import denoise

        self._labels = self.labels(x)
        try:
            return denoise(self, x, offset, record, callbacks)
        finally:
            self._labels = None

    def condition(self, n: int, offset: int) -> torch.Tensor:
        """class_labels of one batch: [null; classes] with guidance, the classes without."""
        if self._labels is None or len(self._labels) != n:
            raise GenqError("DiTAdapter.condition is called by DiTAdapter.denoise, which knows the noise.")
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
        """The noise prediction (the first ``in_channels``: a learned-sigma half is dropped),
        guided as ``eps_u + s (eps_c - eps_u)``."""
        sample = output.sample if hasattr(output, "sample") else output
        eps = sample[:, : self.image_shape[0]].float()
        if not self.guided:
            return eps
        uncond, cond = eps.chunk(2)
        return uncond + self.guidance_scale * (cond - uncond)

    # --- family traits --------------------------------------------------------------------
    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """diffusers' ``BasicTransformerBlock`` modules: DiT blocks (adaLN-Zero, attention, MLP)."""
        from diffusers.models.attention import BasicTransformerBlock

        return {name: "dit_block" for name, mod in network.named_modules()
                if name and isinstance(mod, BasicTransformerBlock)}

    def describe_sampler(self) -> str | None:
        guidance = f"guidance {self.guidance_scale}" if self.guided else "no guidance"
        return f"DDIM eta=0, {self.num_inference_steps} steps, class-conditional, {guidance}"

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": "DiTTransformer2DModel", "family": self.family, "arch": self.arch,
                "scheduler": self.scheduler_config}

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        return {"transformer": self.network}
