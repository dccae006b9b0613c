"""Reading a pretrained diffusers pipeline, component by component (the adapters are built
from these parts in :mod:`genq.models.hub_diffusion`; :func:`genq.models.hub_pipeline.load_pipeline`
does both).

The components are read from a pipeline folder (a local folder or a hub repo, see
:mod:`genq.models.hub`): ``model_index.json`` and the subfolders say where each component
is (``unet/``, ``scheduler/``, ``vae/`` or ``vqvae/``, ``text_encoder/``, ``tokenizer/``;
``model.subfolders`` overrides), each component's ``config.json`` says its class, and that
class must be one of the fixed tables below: genq never imports a class a repo names and
never passes ``trust_remote_code``. Each component loads with its library's own
``from_pretrained`` (diffusers, transformers), from safetensors when the folder has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from genq.errors import GenqError
from genq.models.hub import Repo, first_line, place, torch_dtype

UNETS = ("UNet2DModel", "UNet2DConditionModel")
VAES = ("AutoencoderKL", "VQModel")
TEXT_ENCODERS = ("CLIPTextModel",)
SUBFOLDERS = {"unet": ("unet",), "scheduler": ("scheduler",), "vae": ("vae", "vqvae"),
              "text_encoder": ("text_encoder",), "tokenizer": ("tokenizer",)}
KINDS = {"ddpm": "an unconditional pixel-space pipeline (a UNet2DModel, no VAE)",
         "ldm": "a latent diffusion pipeline (a UNet2DModel and a VAE)",
         "sd": "a text-to-image pipeline (a UNet2DConditionModel, a VAE and a CLIP text encoder)"}


def _classes(name: str) -> Any:
    import diffusers
    import transformers

    return getattr(diffusers, name, None) or getattr(transformers, name)


def find_subfolders(repo: Repo, overrides: dict[str, str] | None = None) -> dict[str, str | None]:
    """Component -> subfolder: ``overrides`` first, then the names ``model_index.json``
    lists or the folder holds (the standard names, and ``vqvae`` for LDM pipelines)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SUBFOLDERS))
    if unknown:
        raise GenqError(f"model.subfolders has unknown component {unknown[0]!r}; accepted: "
                        f"{', '.join(SUBFOLDERS)}.")
    index = repo.read_json("model_index.json", required=False) or {}
    for extra, why in (("text_encoder_2", "a second text encoder (SDXL style)"),
                       ("transformer", "a transformer denoiser (use model=hub_dit for a DiTPipeline, "
                                        "model=hub_transformer_t2i for PixArt or SD3)"),
                       ("prior", "a prior (unCLIP style)")):
        if extra in index or (repo.folder / extra).is_dir():
            raise GenqError(f"model.repo_id={repo.repo_id!r} has {why}, which genq's hub models do not "
                            "support; accepted: pipelines of a UNet2DModel or a UNet2DConditionModel "
                            "with one CLIP text encoder (DDPM, LDM, Stable Diffusion 1.x/2.x, SD-Turbo).")
    found: dict[str, str | None] = {}
    for role, names in SUBFOLDERS.items():
        if role in overrides:
            found[role] = overrides[role]
            if not (repo.folder / found[role]).is_dir():
                raise GenqError(f"model.subfolders.{role}={found[role]!r} is not a folder of "
                                f"model.repo_id={repo.repo_id!r}.")
        else:
            found[role] = next((n for n in names if n in index or (repo.folder / n).is_dir()), None)
    return found


def _class_of(repo: Repo, sub: str, role: str, accepted: tuple[str, ...]) -> str:
    config = repo.read_json(f"{sub}/config.json")
    name = config.get("_class_name") or (config.get("architectures") or [None])[0]
    if name not in accepted:
        raise GenqError(f"the {role} of model.repo_id={repo.repo_id!r} ({sub}/) is a {name!r}; "
                        f"accepted: {', '.join(accepted)}.")
    return name


def _load(repo: Repo, sub: str, role: str, class_name: str, dtype: torch.dtype,
          device: str | None, frozen: bool) -> torch.nn.Module:
    """One model component through its library's ``from_pretrained``."""
    cls = _classes(class_name)
    kwargs: dict[str, Any] = {"subfolder": sub, "local_files_only": True, "variant": repo.variant}
    if repo.has_safetensors(sub):
        kwargs["use_safetensors"] = True
    diffusers_class = cls.__module__.startswith("diffusers")
    if diffusers_class:   # diffusers casts while loading (and keeps the modules it must in fp32)
        kwargs["torch_dtype"] = dtype
    try:
        module = cls.from_pretrained(repo.folder, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        raise GenqError(f"the {role} of model.repo_id={repo.repo_id!r} ({sub}/) could not be loaded "
                        f"({first_line(err)}).") from err
    return place(module, None if diffusers_class else dtype, device, frozen)


def _load_tokenizer(repo: Repo, sub: str) -> Any:
    from transformers import CLIPTokenizer

    try:
        return CLIPTokenizer.from_pretrained(repo.folder, subfolder=sub, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise GenqError(f"the tokenizer of model.repo_id={repo.repo_id!r} ({sub}/) could not be loaded "
                        f"as a CLIPTokenizer ({first_line(err)}).") from err


def _check_unet(repo: Repo, config: Any, conditional: bool) -> None:
    extras = {"class_embed_type": "class labels", "num_class_embeds": "class labels",
              "addition_embed_type": "added conditioning (SDXL style)",
              "time_cond_proj_dim": "a guidance embedding (LCM style)",
              "encoder_hid_dim_type": "image conditioning"}
    for key, what in extras.items():
        if config.get(key) is not None:
            raise GenqError(f"the UNet of model.repo_id={repo.repo_id!r} needs {what} ({key}="
                            f"{config.get(key)!r}), which genq's hub models do not feed; accepted: "
                            f"{'text-only' if conditional else 'unconditional'} UNets.")


@dataclass
class PipelineParts:
    """The loaded components of a pipeline and the options its adapter is built with."""

    kind: str                                   # ddpm | ldm | sd
    unet: torch.nn.Module
    scheduler_config: dict[str, Any]
    source: dict[str, Any]
    num_inference_steps: int = 50
    vae: torch.nn.Module | None = None
    latent_scale: float = 1.0
    latent_shift: float = 0.0
    text_encoder: torch.nn.Module | None = None
    tokenizer: Any = None
    prompts: list[str] = field(default_factory=list)
    guidance_scale: float = 7.5
    negative_prompt: str = ""


def read_pipeline(repo_id: str, *, kind: str | None = None, revision: str | None = None,
                  variant: str | None = None, dtype: str = "float32", device: str | None = None,
                  subfolders: dict[str, str] | None = None, scheduler: dict[str, Any] | None = None,
                  num_inference_steps: int = 50, latent_scale: float | None = None,
                  prompts: list[str] | tuple[str, ...] = (), guidance_scale: float = 7.5,
                  negative_prompt: str = "") -> PipelineParts:
    """The components of the diffusers pipeline at ``repo_id`` (hub id or folder).

    ``kind`` (ddpm | ldm | sd), when given, must match what the repo holds. ``scheduler``
    overrides entries of the pipeline's scheduler config (e.g. ``timestep_spacing``).
    ``latent_scale`` null: the VAE config's ``scaling_factor``, or 1.0 for a VQ VAE whose
    config sets none (CompVis LDMs were trained unscaled; diffusers' LDMPipeline divides by
    the class default 0.18215 there, diffusers issue #6725).
    """
    if kind is not None and kind not in KINDS:
        raise GenqError(f"model.hub={kind!r} is not a diffusion pipeline kind; accepted: "
                        f"{', '.join(KINDS)}.")
    dt = torch_dtype(dtype)
    repo = Repo(repo_id, revision, variant)
    subs = find_subfolders(repo, subfolders)
    if subs["unet"] is None:
        raise GenqError(f"model.repo_id={repo_id!r} has no unet/ subfolder (looked in "
                        f"{str(repo.folder)!r}); accepted: a diffusers pipeline folder with a UNet, "
                        "or set model.subfolders.unet.")
    unet_class = _class_of(repo, subs["unet"], "UNet", UNETS)
    detected = "sd" if unet_class == "UNet2DConditionModel" else "ldm" if subs["vae"] else "ddpm"
    if kind is not None and kind != detected:
        raise GenqError(f"model=hub_{kind} expects {KINDS[kind]}, but model.repo_id={repo_id!r} holds "
                        f"{KINDS[detected]}; use model=hub_{detected}.")
    needed = ["unet", "scheduler"] + (["vae"] if detected != "ddpm" else []) + \
             (["text_encoder", "tokenizer"] if detected == "sd" else [])
    missing = [r for r in needed if subs[r] is None]
    if missing:
        raise GenqError(f"model.repo_id={repo_id!r} has no {missing[0]} subfolder, which {KINDS[detected]} "
                        f"needs; set model.subfolders.{missing[0]} if it has another name.")
    _check_unet(repo, repo.read_json(f"{subs['unet']}/config.json"), detected == "sd")
    vae_class = _class_of(repo, subs["vae"], "VAE", VAES) if subs["vae"] and detected != "ddpm" else None
    if detected == "sd":
        _class_of(repo, subs["text_encoder"], "text encoder", TEXT_ENCODERS)
    if latent_scale is not None and latent_scale <= 0:
        raise GenqError(f"model.latent_scale={latent_scale} must be positive, or null for the VAE's own.")
    sched = repo.read_json(f"{subs['scheduler']}/scheduler_config.json")
    if "FlowMatch" in str(sched.get("_class_name", "")):
        raise GenqError(f"model.repo_id={repo_id!r} uses a flow-matching scheduler "
                        f"({sched['_class_name']}); accepted: DDPM-family schedulers (DDPM, DDIM, PNDM, "
                        "Euler, DPM-Solver, ...), which genq samples with DDIM.")
    sched = {**{k: v for k, v in sched.items() if not k.startswith("_")}, **(scheduler or {})}
    if detected == "sd" and not prompts:   # before any weights are fetched or loaded
        raise GenqError(f"model.repo_id={repo_id!r} is a text-to-image model and needs prompts: set "
                        "data.prompts (or data.prompts_file, or model.prompts) to a non-empty list.")

    weighted = [r for r in ("unet", "vae", "text_encoder") if r in needed]
    repo.fetch_weights([subs[r] for r in weighted])
    unet = _load(repo, subs["unet"], "UNet", unet_class, dt, device, frozen=False)
    source = {**repo.describe(), "kind": detected, "dtype": dtype,
              "subfolders": {r: subs[r] for r in needed}}
    parts = PipelineParts(detected, unet, sched, source, num_inference_steps)
    if detected == "ddpm":
        return parts

    vae = _load(repo, subs["vae"], "VAE", vae_class, dt, device, frozen=True)
    raw_vae = repo.read_json(f"{subs['vae']}/config.json")
    if latent_scale is None:
        default = 1.0 if vae_class == "VQModel" else vae.config.scaling_factor
        latent_scale = raw_vae.get("scaling_factor", default)
    shift = float(raw_vae.get("shift_factor") or 0.0)
    source["latent_scale"] = latent_scale
    parts.vae, parts.latent_scale, parts.latent_shift = vae, latent_scale, shift
    if detected == "ldm":
        return parts

    text_encoder = _load(repo, subs["text_encoder"], "text encoder", "CLIPTextModel", dt, device,
                         frozen=True)
    parts.tokenizer = _load_tokenizer(repo, subs["tokenizer"])
    parts.text_encoder, parts.prompts = text_encoder, list(prompts)
    parts.guidance_scale, parts.negative_prompt = guidance_scale, negative_prompt
    return parts

