"""Adapters for pretrained diffusers pipelines: a ``UNet2DModel`` in pixel space (DDPM, Ho et
al., 2020, arXiv:2006.11239), the same in the latent space of a VAE kept in FP (LDM, Rombach
et al., 2022, arXiv:2112.10752), and a ``UNet2DConditionModel`` conditioned on CLIP text
embeddings with classifier-free guidance (Stable Diffusion; Ho & Salimans, 2022,
arXiv:2207.12598). The UNet is the ``network`` that gets quantized; VAE, text encoder and
tokenizer stay FP and are shared between the FP adapter and its quantized clone.

All three sample with diffusers' DDIM scheduler (Song et al., 2021, arXiv:2010.02502) at
eta = 0, built from the pipeline's own scheduler config, in genq's one sampler loop
(:mod:`genq.models.sampler`) rather than the pipeline's, because genq needs what the pipeline
hides: the UNet's exact inputs at every step (calibration), a step context for per-timestep
quantizers, and a noise bank that alone determines every sample (FP and quantized compared
on the same noise). The adapters here only say how inputs are built and outputs read.

Reading the components (the class tables) is in :mod:`genq.models.hub_components`;
:func:`adapter_from_parts` builds the adapter from them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from torch import nn

from genq.errors import GenqError
from genq.models.base import device_and_dtype
from genq.models.diffusion import DiffusionAdapter
from genq.models.hub_components import PipelineParts, read_pipeline


def _sample_size(config: Any) -> tuple[int, int]:
    s = config.sample_size
    return (s, s) if isinstance(s, int) else (int(s[0]), int(s[1]))


def _device_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    return device_and_dtype(module)


class HubDiffusionAdapter(DiffusionAdapter):
    """A pretrained unconditional ``UNet2DModel``, in pixel space or (``vae`` given) in the
    latent space of a VAE (``AutoencoderKL`` or ``VQModel``). Latents are decoded as
    ``vae.decode(z / latent_scale + latent_shift)``."""

    family = "diffusion"
    network_role = "unet"

    def __init__(self, unet: nn.Module, scheduler_config: dict[str, Any], num_inference_steps: int = 50,
                 vae: nn.Module | None = None, latent_scale: float = 1.0, latent_shift: float = 0.0,
                 source: dict[str, Any] | None = None) -> None:
        # DiffusionAdapter.__init__ builds a fresh UNet from ``arch``; here it is given.
        self.network = unet.eval()
        self.arch = {k: v for k, v in dict(unet.config).items() if not k.startswith("_")}
        self.scheduler_config = dict(scheduler_config)
        self.num_inference_steps = num_inference_steps
        self.vae = vae.eval() if vae is not None else None
        self.latent_scale, self.latent_shift = float(latent_scale), float(latent_shift)
        self.source = dict(source or {})

    @property
    def pipeline_class(self) -> str:
        """The diffusers pipeline this adapter corresponds to (written to model_index.json)."""
        return "DDPMPipeline" if self.vae is None else "LDMPipeline"

    # --- shapes and noise ---------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape of one noise sample: what the UNet denoises (pixels, or VAE latents)."""
        h, w = _sample_size(self.network.config)
        return (self.network.config.in_channels, h, w)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.latent_shape
        if self.vae is None:
            return (c, h, w)
        f = self.vae_scale_factor
        return (self.vae.config.out_channels, h * f, w * f)

    def make_noise(self, n: int, seed: int) -> torch.Tensor:
        """Standard normal noise of the UNet's input shape, drawn on the CPU in float32 (so the
        bank is the same whatever the device and dtype the model runs in)."""
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, *self.latent_shape, generator=gen)

    # --- schedulers ---------------------------------------------------------------------
    def training_scheduler(self) -> DDPMScheduler:
        return DDPMScheduler.from_config(self.scheduler_config)

    def sampling_scheduler(self) -> DDIMScheduler:
        """DDIM from the pipeline's scheduler config (its beta schedule, prediction type,
        timestep spacing and clipping), whatever scheduler class the pipeline ships."""
        scheduler = DDIMScheduler.from_config(self.scheduler_config)
        scheduler.set_timesteps(self.num_inference_steps)
        return scheduler

    # --- the sampler loop's hooks (the loop itself: genq.models.sampler) ------------------
    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (float32) -> images; the identity for a pixel-space model."""
        if self.vae is None:
            return latents
        _, dtype = _device_dtype(self.vae)
        z = (latents / self.latent_scale + self.latent_shift).to(dtype)
        return self.vae.decode(z).sample.float()

    def sample(self, noise: torch.Tensor, batch_size: int = 256, callbacks: Any = ()) -> torch.Tensor:
        """Images in [-1, 1], float32 on the CPU, one per noise sample."""
        self.network.eval()
        out, offset = [], 0
        for x in noise.split(batch_size):
            out.append(self.decode(self.denoise(x, offset, callbacks=callbacks)).clamp(-1, 1).cpu())
            offset += len(x)
        return torch.cat(out)

    def clone(self) -> "HubDiffusionAdapter":
        """A copy with its own UNet; the FP parts (VAE, text encoder) are shared, not copied."""
        other = copy.copy(self)
        other.network = copy.deepcopy(self.network)
        other.scheduler_config = dict(self.scheduler_config)
        return other

    # --- quant.components (genq.quant.components) ------------------------------------------
    def extra_components(self) -> dict[str, dict[str, nn.Module]]:
        """The parts besides the denoiser that can be quantized, each as its modules by name:
        ``vae_decoder`` (``post_quant_conv`` where the VAE has one, and ``decoder``)."""
        if self.vae is None:
            return {}
        names = [n for n in ("post_quant_conv", "decoder") if isinstance(getattr(self.vae, n, None), nn.Module)]
        return {"vae_decoder": {n: getattr(self.vae, n) for n in names}}

    def own_component(self, name: str) -> None:
        """Replace the shared FP component ``name`` by this adapter's own copy (before it is
        quantized: clones share the FP VAE and text encoders)."""
        if name == "vae_decoder":
            self.vae = copy.deepcopy(self.vae)
        else:
            raise GenqError(f"{type(self).__name__} has no component {name!r} to copy.")

    # --- checkpoints: a diffusers pipeline folder -----------------------------------------
    def components(self) -> dict[str, Any]:
        """Pipeline components by subfolder name (what ``save_pretrained`` writes)."""
        parts: dict[str, Any] = {"unet": self.network}
        if self.vae is not None:
            parts["vqvae" if type(self.vae).__name__ == "VQModel" else "vae"] = self.vae
        return parts

    def checkpoint_parts(self) -> dict[str, nn.Module]:
        return {k: v for k, v in self.components().items() if isinstance(v, nn.Module)}

    def checkpoint_config(self) -> dict[str, Any]:
        return {"class": self.pipeline_class, "family": self.family, "source": self.source,
                "scheduler": self.scheduler_config, "num_inference_steps": self.num_inference_steps,
                "latent_scale": self.latent_scale if self.vae is not None else None}

    def save(self, folder: str | Path) -> Path:
        """genq saves a pretrained pipeline as a diffusers folder (see ``save_pretrained``)."""
        return self.save_pretrained(folder)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write a diffusers pipeline folder (``model_index.json``, one subfolder per
        component, safetensors weights) that ``model.repo_id`` and diffusers both load."""
        import diffusers

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.vae is not None:   # the latent scaling in use, written where loaders look for it
            self.vae.register_to_config(scaling_factor=self.latent_scale)
            if "shift_factor" in self.vae.config:
                self.vae.register_to_config(shift_factor=self.latent_shift or None)
        index: dict[str, Any] = {"_class_name": self.pipeline_class,
                                 "_diffusers_version": diffusers.__version__}
        for name, part in self.components().items():
            library = "diffusers" if type(part).__module__.startswith("diffusers") else "transformers"
            part.save_pretrained(folder / name)
            index[name] = [library, type(part).__name__]
        sched = folder / "scheduler"
        sched.mkdir(exist_ok=True)
        config = {"_class_name": "DDIMScheduler", **self.scheduler_config}
        (sched / "scheduler_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        index["scheduler"] = ["diffusers", config["_class_name"]]
        (folder / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def from_pretrained(cls, repo_id: str | Path, **options: Any) -> "HubDiffusionAdapter":
        """Load a pipeline folder or hub repo (options: see ``hub_components.read_pipeline``)."""
        adapter = adapter_from_parts(read_pipeline(str(repo_id), **options))
        if not isinstance(adapter, cls):
            raise GenqError(f"{str(repo_id)!r} holds a {type(adapter).__name__}, not a {cls.__name__}.")
        return adapter


class HubTextToImageAdapter(HubDiffusionAdapter):
    """Stable Diffusion style text-to-image: a ``UNet2DConditionModel`` on VAE latents,
    conditioned on CLIP text embeddings. Noise sample ``i`` of a bank gets prompt
    ``prompts[i % len(prompts)]``, so a noise bank (with the prompt list) still determines
    every sample, whatever the batch size. With ``guidance_scale > 1`` each step runs the
    UNet on [unconditional; conditional] inputs and combines the two predictions as
    ``uncond + scale * (cond - uncond)``; the calibration inputs are that doubled batch
    ``(latents, t, encoder_hidden_states)``, as the UNet sees it."""

    pipeline_class = "StableDiffusionPipeline"   # type: ignore[assignment]

    def __init__(self, unet: nn.Module, scheduler_config: dict[str, Any], vae: nn.Module,
                 text_encoder: nn.Module, tokenizer: Any, prompts: list[str],
                 guidance_scale: float = 7.5, negative_prompt: str = "", num_inference_steps: int = 50,
                 latent_scale: float = 0.18215, latent_shift: float = 0.0,
                 source: dict[str, Any] | None = None) -> None:
        super().__init__(unet, scheduler_config, num_inference_steps, vae, latent_scale, latent_shift, source)
        self.prompts = [str(p) for p in prompts]
        if not self.prompts:
            raise GenqError("a text-to-image model needs prompts: set data.prompts (or "
                            "data.prompts_file, or model.prompts) to a non-empty list.")
        self.text_encoder = text_encoder.eval()
        self.tokenizer = tokenizer
        self.guidance_scale = float(guidance_scale)
        self.negative_prompt = negative_prompt
        self._uncond: torch.Tensor | None = None

    @property
    def guided(self) -> bool:
        """Classifier-free guidance is on (diffusers' convention: scale > 1)."""
        return self.guidance_scale > 1.0

    def prompt_of(self, index: int) -> str:
        """The prompt of noise sample ``index``."""
        return self.prompts[index % len(self.prompts)]

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """CLIP last hidden states (N, tokens, dim), padded to the tokenizer's max length, in
        the UNet's dtype on its device."""
        device, dtype = _device_dtype(self.network)
        enc_device, _ = _device_dtype(self.text_encoder)
        length = min(self.tokenizer.model_max_length, self.text_encoder.config.max_position_embeddings)
        tokens = self.tokenizer(prompts, padding="max_length", max_length=length, truncation=True,
                                return_tensors="pt")
        mask = None
        if getattr(self.text_encoder.config, "use_attention_mask", False):
            mask = tokens.attention_mask.to(enc_device)
        hidden = self.text_encoder(tokens.input_ids.to(enc_device), attention_mask=mask)[0]
        return hidden.to(device=device, dtype=dtype)

    def unconditional_embedding(self) -> torch.Tensor:
        """The negative prompt's embedding (1, L, D), computed once."""
        if self._uncond is None:
            self._uncond = self.encode_prompts([self.negative_prompt])
        return self._uncond

    def condition(self, n: int, offset: int) -> torch.Tensor:
        """encoder_hidden_states of one sampling batch: [unconditional; conditional] with
        guidance. Encoded per batch (prompt lists can be long: one per reference image)."""
        context = self.encode_prompts([self.prompt_of(offset + i) for i in range(n)])
        if self.guided:
            context = torch.cat([self.unconditional_embedding().expand(n, -1, -1), context])
        return context

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor,
                       cond: torch.Tensor) -> tuple[tuple, dict[str, Any]]:
        if self.guided:
            x = torch.cat([x, x])
        args, kwargs = super().network_inputs(x, t, None)
        return args, {**kwargs, "encoder_hidden_states": cond}

    def postprocess(self, output: Any) -> torch.Tensor:
        """Classifier-free guidance: ``uncond + scale * (cond - uncond)``."""
        out = super().postprocess(output)
        if not self.guided:
            return out
        uncond, cond = out.chunk(2)
        return uncond + self.guidance_scale * (cond - uncond)

    def describe_sampler(self) -> str | None:
        return f"{super().describe_sampler()}, guidance {self.guidance_scale}"

    def extra_components(self) -> dict[str, dict[str, nn.Module]]:
        return {**super().extra_components(), "text_encoder": {"text_encoder": self.text_encoder}}

    def own_component(self, name: str) -> None:
        if name == "text_encoder":
            self.text_encoder = copy.deepcopy(self.text_encoder)
            self._uncond = None            # re-encoded by this adapter's own text encoder
        else:
            super().own_component(name)

    def calibrate_text(self, prompts: list[str]) -> None:
        """Run the text encoder on ``prompts`` and the negative prompt (its calibration pass)."""
        self.encode_prompts(list(prompts) + [self.negative_prompt])

    def components(self) -> dict[str, Any]:
        return {"unet": self.network, "vae": self.vae, "text_encoder": self.text_encoder,
                "tokenizer": self.tokenizer}

    def checkpoint_config(self) -> dict[str, Any]:
        return {**super().checkpoint_config(), "prompts": self.prompts,
                "guidance_scale": self.guidance_scale, "negative_prompt": self.negative_prompt}


def adapter_from_parts(parts: PipelineParts) -> HubDiffusionAdapter:
    """The adapter of a pipeline's loaded components (its kind says which class)."""
    if parts.kind == "sd":
        return HubTextToImageAdapter(parts.unet, parts.scheduler_config, parts.vae, parts.text_encoder,
                                     parts.tokenizer, parts.prompts, parts.guidance_scale,
                                     parts.negative_prompt, parts.num_inference_steps, parts.latent_scale,
                                     parts.latent_shift, parts.source)
    return HubDiffusionAdapter(parts.unet, parts.scheduler_config, parts.num_inference_steps, parts.vae,
                               parts.latent_scale, parts.latent_shift, parts.source)
