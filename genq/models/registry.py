"""Build a model from its config: the shipped weights, a genq-train folder, a fresh
random initialisation, or (``model.hub`` set) a pretrained model from the Hugging Face Hub
or a local folder (genq.models.hub_pipeline, genq.models.hub_gan). Classes are chosen from
fixed tables by the name stored in the checkpoint's config.json; nothing named in a config
or checkpoint is imported or run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.models.checkpoint import load_part, read_config, save_checkpoint
from genq.models.classifier import DigitsClassifier
from genq.models.diffusion import DiffusionAdapter
from genq.models.dit import DiTAdapter
from genq.models.gan import GANAdapter
from genq.models.speed import is_speed_model, load_speed_model
from genq.models.stylegan_adapter import StyleGANAdapter


@contextlib.contextmanager
def seeded_init(seed: int = 0) -> Iterator[None]:
    """A random initialisation that depends on ``seed`` alone: torch's global RNG is seeded
    inside the block and given back as it was afterwards (the run's own seed stream goes on
    untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def embedded_weights_dir(name: str) -> Path:
    """The folder of weights shipped inside the package for model ``name``."""
    return Path(str(resources.files("genq") / "weights" / name))


def cache_dir() -> Path:
    """``$GENQ_CACHE`` (default ``~/.cache/genq``): models and statistics genq makes itself."""
    return Path(os.environ.get("GENQ_CACHE", Path.home() / ".cache" / "genq"))


def resolve_weights(name: str, weights: str | None) -> Path | None:
    """Turn ``model.weights`` into a checkpoint folder (None: random initialisation)."""
    if weights is None:
        return None
    folder = embedded_weights_dir(name) if weights == "embedded" else Path(weights).expanduser()
    if not folder.is_dir():
        where = "shipped with genq" if weights == "embedded" else "given as model.weights"
        raise GenqError(f"weights folder {str(folder)!r} ({where}) does not exist; train it with "
                        f"'genq-train model={name}' or set model.weights to a genq-train output folder.")
    return folder


def _plain(node: Any) -> dict[str, Any]:
    """A plain dict (JSON-ready) from a config node or a dict."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)


#: an embedded diffusion model's adapter, by the network class its checkpoint names
DIFFUSION_ADAPTERS = {"UNet2DModel": DiffusionAdapter, "DiTTransformer2DModel": DiTAdapter}
#: an embedded GAN's checkpoint class, by ``model.network_class`` (anything else: the DCGAN)
GAN_CLASSES = {"StyleGAN2": "StyleGAN2"}


def _adapter_from(ckpt: dict[str, Any], family: str, num_inference_steps: int,
                  guidance_scale: float = 1.0, truncation: float = 1.0) -> GeneratorAdapter:
    try:
        if family == "gan" and ckpt.get("class") == "StyleGAN2":
            return StyleGANAdapter(ckpt["arch"], truncation=truncation)
        if family == "gan":
            return GANAdapter(ckpt["arch"])
        if ckpt.get("class") == "DiTTransformer2DModel":
            return DiTAdapter(ckpt["arch"], ckpt.get("scheduler") or None, num_inference_steps, guidance_scale)
        return DiffusionAdapter(ckpt["arch"], ckpt.get("scheduler") or None, num_inference_steps)
    except (TypeError, ValueError, KeyError) as err:
        raise GenqError(f"model architecture {ckpt.get('arch')!r} is invalid ({err}).") from err


def load_hub_generator(model_cfg: Any, device: str | None = None,
                       prompts: list[str] | None = None) -> GeneratorAdapter:
    """A pretrained generator from ``model.repo_id`` (hub id or local folder), as
    ``model.hub`` says: ddpm | ldm | sd (UNet diffusers pipelines), dit | t2i (transformer
    pipelines, genq.models.hub_transformer) or gan (a DCGAN generator).
    ``prompts`` (text-to-image: data.prompts) win over ``model.prompts`` when non-empty."""
    from genq.models.hub import HUB_KINDS, torch_dtype
    from genq.models.hub_gan import HubGANAdapter
    from genq.models.hub_pipeline import load_pipeline

    kind = model_cfg.hub
    if kind not in HUB_KINDS:
        raise GenqError(f"model.hub={kind!r} is not supported; accepted: {', '.join(HUB_KINDS)}.")
    if not getattr(model_cfg, "repo_id", None):
        raise GenqError(f"model={model_cfg.name} needs model.repo_id: a Hugging Face Hub id "
                        "(owner/name) or a local folder.")
    torch_dtype(model_cfg.dtype)   # a bad dtype fails before anything is fetched
    expected = "gan" if kind == "gan" else "diffusion"
    if model_cfg.family != expected:
        raise GenqError(f"model.hub={kind} is a {expected} model, but model.family={model_cfg.family!r}; "
                        f"accepted: model.family={expected}.")
    if kind == "gan":
        return HubGANAdapter.from_pretrained(model_cfg.repo_id, model_cfg.revision, model_cfg.dtype, device)
    if kind in ("dit", "t2i"):
        from genq.models.hub_transformer import load_transformer_pipeline

        if model_cfg.subfolders:
            raise GenqError(f"model.subfolders={_plain(model_cfg.subfolders)} does not apply to model="
                            f"{model_cfg.name}: transformer pipelines are read from their model_index.json; "
                            "accepted: {} (empty).")

        return load_transformer_pipeline(
            model_cfg.repo_id, kind=kind, revision=model_cfg.revision, variant=model_cfg.variant,
            dtype=model_cfg.dtype, device=device, scheduler=_plain(model_cfg.scheduler),
            num_inference_steps=model_cfg.num_inference_steps, latent_scale=model_cfg.latent_scale,
            prompts=list(prompts or model_cfg.prompts) if kind == "t2i" else (),
            guidance_scale=model_cfg.guidance_scale, negative_prompt=model_cfg.negative_prompt,
            max_sequence_length=getattr(model_cfg, "max_sequence_length", None))
    return load_pipeline(
        model_cfg.repo_id, kind=kind, revision=model_cfg.revision, variant=model_cfg.variant,
        dtype=model_cfg.dtype, device=device, subfolders=_plain(model_cfg.subfolders),
        scheduler=_plain(model_cfg.scheduler), num_inference_steps=model_cfg.num_inference_steps,
        latent_scale=model_cfg.latent_scale, prompts=list(prompts or model_cfg.prompts),
        guidance_scale=model_cfg.guidance_scale, negative_prompt=model_cfg.negative_prompt)


def load_generator(model_cfg: Any, device: str | None = None,
                   prompts: list[str] | None = None, init_seed: int = 0) -> GeneratorAdapter:
    """A generator adapter for ``model_cfg`` (a ModelConfig or anything with its fields).

    Pretrained hub models (``model.hub`` set) are placed on ``device`` in ``model.dtype``;
    genq's own models (shipped, genq-train or random) run on the CPU in float32. A random
    initialisation (``model.weights`` null) is a function of ``init_seed`` alone and leaves
    torch's global RNG as it was."""
    family = model_cfg.family
    if family not in ("gan", "diffusion"):
        raise GenqError(f"model={model_cfg.name!r} is a {family}, not a generator; genq samples "
                        "from generators: model=dcgan_digits or model=ddpm_digits.")
    if getattr(model_cfg, "hub", None):
        return load_hub_generator(model_cfg, device, prompts)
    arch = {**_plain(model_cfg.arch), **(_plain(model_cfg.tiny_arch) if model_cfg.tiny else {})}
    if is_speed_model(model_cfg.name):     # a published config, random weights (genq.models.speed)
        with seeded_init(init_seed):
            return load_speed_model(model_cfg, arch, init_seed)
    expected = (GAN_CLASSES.get(model_cfg.network_class, "DCGAN") if family == "gan"
                else model_cfg.network_class)
    if family == "diffusion" and expected not in DIFFUSION_ADAPTERS:
        raise GenqError(f"model.network_class={expected!r} is not an embedded diffusion network; "
                        f"accepted: {', '.join(DIFFUSION_ADAPTERS)}.")
    guidance = model_cfg.guidance_scale if expected == "DiTTransformer2DModel" else 1.0
    truncation = getattr(model_cfg, "truncation", 1.0)
    folder = resolve_weights(model_cfg.name, model_cfg.weights)
    if folder is None:
        ckpt = {"class": expected, "arch": arch, "scheduler": _plain(model_cfg.scheduler)}
        with seeded_init(init_seed):
            return _adapter_from(ckpt, family, model_cfg.num_inference_steps, guidance, truncation)
    ckpt = read_config(folder)
    if ckpt.get("class") != expected:
        raise GenqError(f"checkpoint {str(folder)!r} holds a {ckpt.get('class')!r}; "
                        f"model={model_cfg.name!r} needs a {expected!r} checkpoint.")
    adapter = _adapter_from(ckpt, family, model_cfg.num_inference_steps, guidance, truncation)
    for part, module in adapter.checkpoint_parts().items():
        load_part(folder, part, module)
    return adapter


def load_classifier(weights: str | None = "embedded", name: str = "digits_classifier",
                    arch: dict[str, Any] | None = None, init_seed: int = 0) -> DigitsClassifier:
    """The digits classifier (feature network of the offline metrics); ``weights`` None: a
    random initialisation from ``init_seed`` (torch's global RNG left as it was)."""
    folder = resolve_weights(name, weights)
    if folder is None:
        with seeded_init(init_seed):
            return DigitsClassifier(**(arch or {})).eval()
    ckpt = read_config(folder)
    if ckpt.get("class") != "DigitsClassifier":
        raise GenqError(f"checkpoint {str(folder)!r} holds a {ckpt.get('class')!r}, not a 'DigitsClassifier'.")
    model = DigitsClassifier(**ckpt["arch"])
    return load_part(folder, "classifier", model).eval()


def save_classifier(model: DigitsClassifier, arch: dict[str, Any], folder: str | Path,
                    extra: dict[str, Any] | None = None) -> Path:
    config = {"class": "DigitsClassifier", "family": "classifier", "arch": dict(arch), **(extra or {})}
    return save_checkpoint(folder, {"classifier": model}, config)
