"""The sampler hooks every class-conditional DiT shares (Peebles & Xie, 2023,
arXiv:2212.09748), with classifier-free guidance (Ho & Salimans, 2022, arXiv:2207.12598):
classes drawn from the noise rows (:func:`labels_of_noise`), the null class for the
unconditional pass, [unconditional; conditional] rows per step combined as
``eps_u + s (eps_c - eps_u)``, DiT blocks as reconstruction units. Used by the embedded
``dit_digits`` and the hub's ``DiTPipeline`` adapters, which differ in where the network and
the classes come from, not in how a step is run."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.models.base import device_and_dtype


def labels_of_noise(noise: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One class per noise row, drawn uniformly by a generator seeded from a hash of the row's
    float32 bytes: a function of the row alone (hence of the bank's seed and the row's index)."""
    rows = noise.detach().to(device="cpu", dtype=torch.float32).reshape(len(noise), -1).numpy()
    seeds = [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little") >> 1
             for r in rows]
    return torch.tensor([int(torch.randint(0, num_classes, (), generator=torch.Generator().manual_seed(s)))
                         for s in seeds], dtype=torch.long)


class GuidedClassConditional:
    """Mixin for a diffusion adapter whose network is a class-conditional DiT. The adapter
    sets ``guidance_scale``, ``_labels = None`` and ``num_inference_steps`` and defines
    ``num_classes``, ``null_class`` and ``noise_channels`` (how many output channels are the
    noise prediction; a learned-sigma half after them is dropped)."""

    guidance_scale: float
    num_inference_steps: int
    _labels: torch.Tensor | None
    network: nn.Module

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    def labels(self, noise: torch.Tensor) -> torch.Tensor:
        """The class of every noise sample (see :func:`labels_of_noise`)."""
        return labels_of_noise(noise, self.num_classes)

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
            name = type(self).__name__
            raise GenqError(f"{name}.condition is called by {name}.denoise, which knows the noise.")
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
        """The noise prediction (the first ``noise_channels``: a learned-sigma half is dropped),
        guided as ``eps_u + s (eps_c - eps_u)``."""
        sample = output.sample if hasattr(output, "sample") else output
        eps = sample[:, : self.noise_channels].float()
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
