"""Transformer text-to-image pipelines from the hub (``model=hub_transformer_t2i``): PixArt-alpha
and PixArt-Sigma (``PixArtTransformer2DModel`` on T5 caption embeddings; Chen et al., 2023,
arXiv:2310.00426; 2024, arXiv:2403.04692) and Stable Diffusion 3 (``SD3Transformer2DModel``,
an MM-DiT on CLIP + T5 embeddings and a pooled CLIP vector, trained by rectified flow; Esser
et al., 2024, arXiv:2403.03206). The transformer is the ``network`` that gets quantized; VAE
and text encoders stay FP unless ``quant.components`` names them.

Prompts are encoded by the pipeline's own ``encode_prompt`` (its tokenizers, encoders,
padding and masks), so the conditioning is the pipeline's. Noise sample ``i`` gets prompt
``prompts[i % len(prompts)]``; with ``guidance_scale > 1`` the network runs on
[negative prompt; prompt] rows and the outputs combine as ``uncond + s (cond - uncond)``
(Ho & Salimans, 2022, arXiv:2207.12598).

Sampling is genq's one loop (:mod:`genq.models.sampler`), never the pipeline's ``__call__``,
because calibration, step contexts and noise banks need it (see :mod:`genq.models.hub_diffusion`).
Its scheduler: PixArt predicts DDPM noise (and a learned variance), so it is sampled by DDIM
(eta 0) from the pipeline's scheduler config, like ``model=hub_sd``; SD3 predicts a
rectified-flow velocity, for which DDIM's update is undefined, so it is sampled by the
pipeline's own ``FlowMatchEulerDiscreteScheduler`` (its shift, and its resolution-dependent
shift where the config asks for one, as ``StableDiffusion3Pipeline`` computes it).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.models.base import device_and_dtype
from genq.models.hub_diffusion import HubDiffusionAdapter
from genq.models.speed_adapters import PixArtNetwork

TEXT_ENCODERS = ("text_encoder", "text_encoder_2", "text_encoder_3")


def _rows(value: Any, n: int) -> Any:
    """A conditioning tensor (or tuple of them) with its first row repeated to ``n`` rows."""
    if isinstance(value, tuple):
        return tuple(_rows(v, n) for v in value)
    return value.expand(n, *value.shape[1:])


def _cat(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(_cat(x, y) for x, y in zip(a, b))
    return torch.cat([a, b])


class HubTransformerT2IAdapter(HubDiffusionAdapter):
    """What PixArt and SD3 share: the diffusers pipeline (for ``encode_prompt``), prompts,
    guidance, text encoders as a quantizable component. Subclasses say how prompts are
    encoded (:meth:`encode`) and how the transformer is called."""

    network_role = "transformer"

    def __init__(self, pipe: Any, scheduler_config: dict[str, Any], prompts: list[str],
                 guidance_scale: float = 4.5, negative_prompt: str = "", num_inference_steps: int = 20,
                 latent_scale: float = 1.0, latent_shift: float = 0.0, max_sequence_length: int | None = None,
                 source: dict[str, Any] | None = None) -> None:
        super().__init__(self.wrap(pipe.transformer), scheduler_config, num_inference_steps, pipe.vae, latent_scale, latent_shift, source)
        self.prompts = [str(p) for p in prompts]
        if not self.prompts:
            raise GenqError("a text-to-image model needs prompts: set data.prompts (or "
                            "data.prompts_file, or model.prompts) to a non-empty list.")
        self.pipe = pipe
        self.guidance_scale = float(guidance_scale)
        self.negative_prompt = negative_prompt
        self.max_sequence_length = max_sequence_length
        self._uncond: Any = None

    @staticmethod
    def wrap(transformer: nn.Module) -> nn.Module:
        """The ``network`` genq quantizes and calls: the transformer itself by default."""
        return transformer

    @property
    def pipeline_class(self) -> str:   # type: ignore[override]
        return type(self.pipe).__name__

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    def prompt_of(self, index: int) -> str:
        return self.prompts[index % len(self.prompts)]

    def text_encoders(self) -> dict[str, nn.Module]:
        return {n: getattr(self.pipe, n) for n in TEXT_ENCODERS if getattr(self.pipe, n, None) is not None}

    def _text_device(self) -> torch.device:
        return device_and_dtype(next(iter(self.text_encoders().values())))[0] if self.text_encoders() \
            else device_and_dtype(self.network)[0]

    def _length(self) -> dict[str, Any]:
        return {} if self.max_sequence_length is None else {"max_sequence_length": self.max_sequence_length}

    def _to_network(self, value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(self._to_network(v) for v in value)
        device, dtype = device_and_dtype(self.network)
        return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)

    def encode(self, prompts: list[str]) -> Any:
        raise NotImplementedError

    def unconditional(self) -> Any:
        """The negative prompt's encoding, computed once."""
        if self._uncond is None:
            self._uncond = self.encode([self.negative_prompt])
        return self._uncond

    def condition(self, n: int, offset: int) -> Any:
        """The encoded prompts of one batch: [negative; prompts] with guidance."""
        cond = self.encode([self.prompt_of(offset + i) for i in range(n)])
        if self.guided:
            cond = _cat(_rows(self.unconditional(), n), cond)
        return cond

    def guide(self, out: torch.Tensor) -> torch.Tensor:
        """Classifier-free guidance of the (float32) model output."""
        if not self.guided:
            return out
        uncond, cond = out.chunk(2)
        return uncond + self.guidance_scale * (cond - uncond)

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """PixArt's transformer blocks (``BasicTransformerBlock``: adaLN-single, self- and
        cross-attention, MLP; one output)."""
        from diffusers.models.attention import BasicTransformerBlock

        return {name: "dit_block" for name, mod in network.named_modules()
                if name and isinstance(mod, BasicTransformerBlock)}

    # --- quant.components ------------------------------------------------------------------
    def extra_components(self) -> dict[str, dict[str, nn.Module]]:
        return {**super().extra_components(), "text_encoder": self.text_encoders()}

    def own_component(self, name: str) -> None:
        if name != "text_encoder":
            return super().own_component(name)
        self.pipe = copy.copy(self.pipe)           # the FP adapter keeps its own pipeline
        for key, module in self.text_encoders().items():
            setattr(self.pipe, key, copy.deepcopy(module))
        self._uncond = None

    def calibrate_text(self, prompts: list[str]) -> None:
        """Encode ``prompts`` and the negative prompt (the text encoders' calibration pass)."""
        self.encode(list(prompts) + [self.negative_prompt])

    def describe_sampler(self) -> str | None:
        return f"{super().describe_sampler()}, guidance {self.guidance_scale}"

    def transformer(self) -> nn.Module:
        return self.network

    def save_pretrained(self, folder: str | Path) -> Path:
        """The pipeline folder, with this adapter's transformer (diffusers' ``save_pretrained``)."""
        pipe = copy.copy(self.pipe)
        pipe.transformer = self.transformer()
        pipe.save_pretrained(folder)
        return Path(folder)

    def checkpoint_config(self) -> dict[str, Any]:
        return {**super().checkpoint_config(), "prompts": self.prompts, "guidance_scale": self.guidance_scale,
                "negative_prompt": self.negative_prompt, "max_sequence_length": self.max_sequence_length}


class HubPixArtAdapter(HubTransformerT2IAdapter):
    """PixArt-alpha/Sigma: T5 caption embeddings and their padding mask, DDIM on the noise
    half of the learned-sigma output; PixArt-alpha's 1024-px model also gets its resolution
    and aspect-ratio micro-conditions, as its pipeline gives them."""

    @staticmethod
    def wrap(transformer: nn.Module) -> nn.Module:
        """PixArt's transformer behind tensor-only inputs (:class:`PixArtNetwork`): its
        ``added_cond_kwargs`` dict becomes two optional tensors that calibration batches can slice."""
        return PixArtNetwork(transformer)

    def transformer(self) -> nn.Module:
        return self.network.transformer

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(T5 embeddings, attention mask) of ``prompts``."""
        embeds, mask, _, _ = self.pipe.encode_prompt(prompts, do_classifier_free_guidance=False,
                                                     device=self._text_device(), clean_caption=False,
                                                     **self._length())
        return self._to_network((embeds, mask))

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        embeds, mask = cond
        if self.guided:
            x = torch.cat([x, x])
        n = x.shape[0]
        kwargs = {"hidden_states": x.to(dtype), "encoder_hidden_states": embeds,
                  "timestep": torch.full((n,), int(t), dtype=torch.long, device=x.device),
                  "encoder_attention_mask": mask}
        if self.transformer().use_additional_conditions:
            h, w = self.image_shape[1:]
            kwargs["resolution"] = torch.tensor([[h, w]], dtype=dtype, device=x.device).expand(n, 2)
            kwargs["aspect_ratio"] = torch.tensor([[h / w]], dtype=dtype, device=x.device).expand(n, 1)
        return (), kwargs

    def postprocess(self, output: Any) -> torch.Tensor:
        return self.guide(output[:, : self.latent_shape[0]].float())


class HubSD3Adapter(HubTransformerT2IAdapter):
    """Stable Diffusion 3: joint CLIP-L/CLIP-G/T5 token embeddings and pooled CLIP vectors,
    sampled by the pipeline's flow-matching Euler scheduler on the predicted velocity."""

    step_kwargs: dict[str, Any] = {}

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(token embeddings, pooled projections) of ``prompts``."""
        embeds, _, pooled, _ = self.pipe.encode_prompt(prompts, None, None, device=self._text_device(),
                                                       do_classifier_free_guidance=False, **self._length())
        return self._to_network((embeds, pooled))

    def training_scheduler(self) -> Any:
        raise GenqError("model=hub_transformer_t2i with a flow-matching pipeline (SD3) has no DDPM "
                        "training schedule; accepted here: PTQ (quant.method=ptq).")

    def sampling_scheduler(self) -> Any:
        """The pipeline's FlowMatchEulerDiscreteScheduler, with its resolution-dependent shift
        ``mu`` where the config turns dynamic shifting on (as StableDiffusion3Pipeline)."""
        from diffusers import FlowMatchEulerDiscreteScheduler
        from diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3 import calculate_shift

        scheduler = FlowMatchEulerDiscreteScheduler.from_config(self.scheduler_config)
        mu = None
        if scheduler.config.get("use_dynamic_shifting"):
            p = self.network.config.patch_size
            _, h, w = self.latent_shape
            c = scheduler.config
            mu = calculate_shift((h // p) * (w // p), c.get("base_image_seq_len", 256),
                                 c.get("max_image_seq_len", 4096), c.get("base_shift", 0.5), c.get("max_shift", 1.16))
        scheduler.set_timesteps(self.num_inference_steps, mu=mu)
        return scheduler

    def num_train_timesteps(self) -> int | None:
        return int(self.scheduler_config.get("num_train_timesteps", 1000))

    def prepare_latents(self, x: torch.Tensor, scheduler: Any) -> torch.Tensor:
        """Flow matching starts from unit Gaussian noise (no ``init_noise_sigma``)."""
        device, _ = device_and_dtype(self.network)
        return x.to(device=device, dtype=torch.float32)

    def network_inputs(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> tuple[tuple, dict[str, Any]]:
        _, dtype = device_and_dtype(self.network)
        embeds, pooled = cond
        if self.guided:
            x = torch.cat([x, x])
        timestep = torch.full((x.shape[0],), float(t), dtype=torch.float32, device=x.device)
        return (), {"hidden_states": x.to(dtype), "timestep": timestep, "encoder_hidden_states": embeds,
                    "pooled_projections": pooled}

    def postprocess(self, output: Any) -> torch.Tensor:
        return self.guide(output.sample.float())

    def reconstruction_blocks(self, network: nn.Module) -> dict[str, str]:
        """The MLPs (``FeedForward``) of the joint blocks; the rest is reconstructed layer by
        layer. A ``JointTransformerBlock`` returns two streams (context, image) and BRECQ
        here matches one output per block, so whole joint blocks are not units."""
        from diffusers.models.attention import FeedForward

        return {name: "mlp" for name, mod in network.named_modules() if isinstance(mod, FeedForward)}

    def describe_sampler(self) -> str | None:
        return (f"flow-matching Euler (the pipeline's scheduler), {self.num_inference_steps} steps, "
                f"guidance {self.guidance_scale}")
