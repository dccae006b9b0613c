"""Loading a pretrained transformer pipeline (``model=hub_dit``, ``model=hub_transformer_t2i``)
into a genq adapter, with diffusers' own ``DiffusionPipeline.from_pretrained``.

Accepted pipelines (:data:`PIPELINES`): ``DiTPipeline`` (class-conditional DiT, Peebles &
Xie, 2023, arXiv:2212.09748), ``PixArtAlphaPipeline`` / ``PixArtSigmaPipeline`` (Chen et al.,
2023/2024, arXiv:2310.00426, arXiv:2403.04692) and ``StableDiffusion3Pipeline`` (Esser et al.,
2024, arXiv:2403.03206). Before anything is loaded, ``model_index.json`` must name one of them
and every component must be a class of diffusers or transformers from the fixed tables below:
genq never runs code a repo names (no ``custom_pipeline``, no ``trust_remote_code``).
Components the index lists as null (an SD3 repo without its T5) are passed as None.

The weights come like the other hub models' (:mod:`genq.models.hub`): a local folder, or a hub
id fetched through the Hugging Face cache, configs first and then only the weights of the
components that load (safetensors where the repo has them); offline and not cached, one
sentence says how to fetch it.
"""

from __future__ import annotations

from typing import Any

import torch

from genq.errors import GenqError
from genq.models.hub import Repo, fetch_command, first_line, torch_dtype

#: pipeline class -> (model.hub kind, its transformer's class)
PIPELINES = {"DiTPipeline": ("dit", "DiTTransformer2DModel"),
             "PixArtAlphaPipeline": ("t2i", "PixArtTransformer2DModel"),
             "PixArtSigmaPipeline": ("t2i", "PixArtTransformer2DModel"),
             "StableDiffusion3Pipeline": ("t2i", "SD3Transformer2DModel")}
KIND_NAMES = {"dit": "hub_dit", "t2i": "hub_transformer_t2i"}
#: component -> accepted classes (schedulers: any diffusers class whose name ends in Scheduler)
CLASSES = {"transformer": ("DiTTransformer2DModel", "PixArtTransformer2DModel", "SD3Transformer2DModel"),
           "vae": ("AutoencoderKL",),
           "text_encoder": ("CLIPTextModel", "CLIPTextModelWithProjection", "T5EncoderModel"),
           "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast", "T5Tokenizer", "T5TokenizerFast")}
_UNET_PIPELINES = {"DDPMPipeline": "hub_ddpm", "LDMPipeline": "hub_ldm", "StableDiffusionPipeline": "hub_sd"}


def _role(name: str) -> str:
    """text_encoder_2 -> text_encoder, tokenizer_3 -> tokenizer."""
    return name.rstrip("_0123456789") if name.startswith(("text_encoder", "tokenizer")) else name


def check_index(repo: Repo, kind: str) -> dict[str, Any]:
    """``model_index.json`` of an accepted pipeline of ``kind`` whose components are all
    classes of the tables; returns the index."""
    index = repo.read_json("model_index.json")
    name = index.get("_class_name")
    if not isinstance(name, str) or name not in PIPELINES:      # a list: a custom pipeline module
        hint = f"; use model={_UNET_PIPELINES[name]}" if name in _UNET_PIPELINES else ""
        raise GenqError(f"model.repo_id={repo.repo_id!r} holds a {name!r}, which genq's transformer hub "
                        f"models do not load; accepted: {', '.join(PIPELINES)}{hint}.")
    if PIPELINES[name][0] != kind:
        right = KIND_NAMES[PIPELINES[name][0]]
        raise GenqError(f"model={KIND_NAMES[kind]} does not load a {name}, which model.repo_id="
                        f"{repo.repo_id!r} holds; use model={right}.")
    for component, entry in index.items():
        if component.startswith("_") or not isinstance(entry, list) or entry == [None, None]:
            continue
        if component in ("safety_checker", "feature_extractor", "image_encoder"):
            continue
        library, cls = entry
        role = _role(component)
        ok = library in ("diffusers", "transformers") and (
            cls.endswith("Scheduler") if role == "scheduler" else cls in CLASSES.get(role, ()))
        if role == "transformer" and cls != PIPELINES[name][1]:
            ok = False
        if not ok:
            accepted = ("a diffusers scheduler" if role == "scheduler"
                        else ", ".join(CLASSES.get(role, ())) or "no such component")
            raise GenqError(f"the {component} of model.repo_id={repo.repo_id!r} is {library}.{cls}; "
                            f"accepted: {accepted}.")
    return index


def _check_scheduler(repo: Repo, flow: bool) -> None:
    sched = repo.read_json("scheduler/scheduler_config.json")
    is_flow = "FlowMatch" in str(sched.get("_class_name", ""))
    if is_flow != flow:
        want = "a flow-matching scheduler" if flow else "a DDPM-family scheduler"
        raise GenqError(f"model.repo_id={repo.repo_id!r} ships a {sched.get('_class_name')!r}, but its "
                        f"transformer needs {want}; accepted: the pipeline's own scheduler config.")


def check_weights(repo: Repo, models: list[str]) -> None:
    """Every model component has a weight file on disk (a cached hub repo can hold its configs
    only, when it was fetched with a filter or the fetch was cut short)."""
    missing = [m for m in models if not any((repo.folder / m).glob("*.safetensors"))
               and not any((repo.folder / m).glob("*.bin"))]
    if not missing:
        return
    where = f"{missing[0]}/ of model.repo_id={repo.repo_id!r} holds no weight file (looked in " \
            f"{str(repo.folder / missing[0])!r})"
    if repo.is_local:
        raise GenqError(f"{where}; accepted: a pipeline folder with the weights of every component "
                        f"(diffusers' save_pretrained writes them).")
    raise GenqError(f"{where}, and they could not be fetched; fetch the repo ahead with "
                    f"{fetch_command(repo.repo_id)} on a machine with network access (same HF_HOME).")


def load_pipeline_object(repo: Repo, index: dict[str, Any], dtype: torch.dtype, device: str | None) -> Any:
    """The diffusers pipeline, its weights fetched first (safetensors where the repo has them)."""
    from diffusers import DiffusionPipeline

    nulls = {k: None for k, v in index.items() if not k.startswith("_") and v == [None, None]}
    models = [k for k, v in index.items() if isinstance(v, list) and v != [None, None]
              and _role(k) in ("transformer", "vae", "text_encoder")]
    tokenizers = [k for k, v in index.items() if isinstance(v, list) and v != [None, None]
                  and _role(k) == "tokenizer"]
    repo.fetch_weights(models)
    repo.fetch_files([f"{t}/*" for t in tokenizers])
    check_weights(repo, models)
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True, "variant": repo.variant}
    if all(repo.has_safetensors(m) for m in models):
        kwargs["use_safetensors"] = True
    try:
        pipe = DiffusionPipeline.from_pretrained(repo.folder, **kwargs, **nulls)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as err:
        raise GenqError(f"the pipeline of model.repo_id={repo.repo_id!r} could not be loaded "
                        f"({first_line(err)}).") from err
    if device is not None:
        pipe.to(device)
    for name in models:
        module = getattr(pipe, name)
        module.eval()
        if name != "transformer":
            module.requires_grad_(False)
    return pipe


def load_transformer_pipeline(repo_id: str, *, kind: str, revision: str | None = None,
                              variant: str | None = None, dtype: str = "float32", device: str | None = None,
                              scheduler: dict[str, Any] | None = None, num_inference_steps: int = 50,
                              latent_scale: float | None = None, prompts: list[str] | tuple[str, ...] = (),
                              guidance_scale: float = 4.5, negative_prompt: str = "",
                              max_sequence_length: int | None = None) -> Any:
    """The genq adapter of the transformer pipeline at ``repo_id`` (hub id or folder):
    ``kind`` dit (``DiTPipeline``) or t2i (PixArt-alpha/Sigma, SD3). ``scheduler`` overrides
    entries of the pipeline's scheduler config; ``latent_scale`` null: the VAE's own."""
    from genq.models.hub_dit import HubDiTAdapter
    from genq.models.hub_t2i import HubPixArtAdapter, HubSD3Adapter

    if kind not in KIND_NAMES:
        raise GenqError(f"model.hub={kind!r} is not a transformer pipeline kind; accepted: {', '.join(KIND_NAMES)}.")
    dt = torch_dtype(dtype)
    if latent_scale is not None and latent_scale <= 0:
        raise GenqError(f"model.latent_scale={latent_scale} must be positive, or null for the VAE's own.")
    repo = Repo(repo_id, revision, variant)
    index = check_index(repo, kind)
    pipeline_class = index["_class_name"]
    flow = pipeline_class == "StableDiffusion3Pipeline"
    _check_scheduler(repo, flow)
    if kind == "t2i" and not prompts:     # before any weights are fetched or loaded
        raise GenqError(f"model.repo_id={repo_id!r} is a text-to-image model and needs prompts: set "
                        "data.prompts (or data.prompts_file, or model.prompts) to a non-empty list.")
    if kind == "dit" and guidance_scale < 1:
        raise GenqError(f"model.guidance_scale={guidance_scale} is below 1; accepted: 1 (no guidance, the "
                        "conditional pass alone) or more (classifier-free guidance).")
    pipe = load_pipeline_object(repo, index, dt, device)
    sched = {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")}
    sched = {**sched, **(scheduler or {})}
    vae = pipe.vae
    scale = float(latent_scale if latent_scale is not None else vae.config.scaling_factor)
    shift = float(getattr(vae.config, "shift_factor", None) or 0.0)
    source = {**repo.describe(), "kind": kind, "dtype": dtype, "pipeline": pipeline_class,
              "latent_scale": scale,
              "components": {k: v[1] for k, v in index.items() if isinstance(v, list) and v != [None, None]}}
    common = {"num_inference_steps": num_inference_steps, "latent_scale": scale, "latent_shift": shift,
              "source": source}
    if kind == "dit":
        return HubDiTAdapter(pipe.transformer, sched, vae, guidance_scale=guidance_scale, **common)
    cls = HubSD3Adapter if flow else HubPixArtAdapter
    return cls(pipe, sched, list(prompts), guidance_scale=guidance_scale, negative_prompt=negative_prompt,
               max_sequence_length=max_sequence_length, **common)
