"""GAN generators from the Hugging Face Hub or a local folder (``model=hub_gan``).

Two checkpoint layouts load, both a ``config.json`` plus ``model.safetensors``:

- huggingface_hub's ``PyTorchModelHubMixin`` layout, written by
  ``DCGANHubGenerator.save_pretrained`` / ``push_to_hub``: ``config.json`` holds the
  constructor arguments (latent_dim, base_channels, channels, resolution), the safetensors
  file the generator's state dict; e.g. a DCGAN trained elsewhere and pushed to the hub.
- genq's own layout, written by ``GANAdapter.save`` / ``genq-train``: ``config.json`` is
  ``{"class": "DCGAN", "arch": {...}}`` and the tensors are namespaced ``generator.`` (and
  ``discriminator.``, not loaded here: only the generator is sampled and quantized).

The architecture is always genq's DCGAN generator (DCGAN, Radford et al., 2016,
arXiv:1511.06434); a config that does not describe one fails with one sentence.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin

from genq.errors import GenqError
from genq.models.base import device_and_dtype
from genq.models.checkpoint import load_part
from genq.models.dcgan import DCGANGenerator
from genq.models.gan import GANAdapter
from genq.models.hub import Repo, first_line, place, torch_dtype

ARCH_KEYS = tuple(p for p in inspect.signature(DCGANGenerator.__init__).parameters if p != "self")


class DCGANHubGenerator(DCGANGenerator, PyTorchModelHubMixin, library_name="genq",
                        tags=["gan", "dcgan", "image-generation"],
                        paper_url="https://arxiv.org/abs/1511.06434"):
    """genq's DCGAN generator with ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``
    (config.json = the constructor arguments, weights in model.safetensors)."""


class HubGANAdapter(GANAdapter):
    """A GANAdapter whose generator came from a hub repo or folder, in any dtype and on any
    device: noise banks stay float32 on the CPU and images come back float32 on the CPU."""

    def __init__(self, arch: dict[str, Any], source: dict[str, Any] | None = None) -> None:
        super().__init__(arch, discriminator=False)
        self.network = DCGANHubGenerator(**self.arch).eval()
        self.source = dict(source or {})

    def _inputs(self, z: torch.Tensor) -> torch.Tensor:
        device, dtype = device_and_dtype(self.network)
        return z.to(device=device, dtype=dtype)

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.network.eval()
        return torch.cat([self.network(self._inputs(z)).float().cpu()
                          for z in noise.split(batch_size)]).clamp(-1, 1)

    def save_pretrained(self, folder: str | Path) -> Path:
        """The PyTorchModelHubMixin layout (config.json + model.safetensors + model card)."""
        self.network.save_pretrained(folder)
        return Path(folder)

    @classmethod
    def from_pretrained(cls, repo_id: str | Path, revision: str | None = None, dtype: str = "float32",
                        device: str | None = None) -> "HubGANAdapter":
        """A hub id or a folder, in either layout (see the module docstring)."""
        dt = torch_dtype(dtype)
        repo = Repo(str(repo_id), revision)
        config = repo.read_json("config.json")
        genq_layout = "class" in config
        if genq_layout and config.get("class") != "DCGAN":
            raise GenqError(f"model.repo_id={str(repo_id)!r} holds a {config.get('class')!r} checkpoint; "
                            "model=hub_gan needs a 'DCGAN' generator.")
        arch = dict(config.get("arch") or {}) if genq_layout else dict(config)
        unknown = sorted(set(arch) - set(ARCH_KEYS))
        if unknown or not arch:
            raise GenqError(f"the config.json of model.repo_id={str(repo_id)!r} does not describe a DCGAN "
                            f"generator (keys {sorted(arch)}); accepted keys: {', '.join(ARCH_KEYS)}.")
        source = {**repo.describe(), "kind": "gan", "dtype": dtype,
                  "layout": "genq" if genq_layout else "PyTorchModelHubMixin"}
        try:
            adapter = cls(arch, source)
        except (TypeError, ValueError) as err:
            raise GenqError(f"the config.json of model.repo_id={str(repo_id)!r} is not a valid DCGAN "
                            f"generator ({err}).") from err
        repo.fetch_weights([""])
        if genq_layout:
            load_part(repo.folder, "generator", adapter.network)
        else:
            try:
                adapter.network = DCGANHubGenerator.from_pretrained(repo.folder, strict=True,
                                                                    local_files_only=True)
            except (OSError, RuntimeError, ValueError) as err:
                raise GenqError(f"the generator weights of model.repo_id={str(repo_id)!r} could not be "
                                f"loaded into its config.json's DCGAN ({first_line(err)}).") from err
        adapter.network = place(adapter.network, dt, device)
        return adapter
