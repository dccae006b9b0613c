"""``quant.components``: which parts of a pipeline are quantized, not only its denoiser.

A latent pipeline has three kinds of networks: the denoiser (a UNet or a transformer), the
VAE decoder that turns its latents into pixels, and the text encoder(s) that condition it.
Deployments quantize the denoiser first (Q-Diffusion, Li et al., 2023, arXiv:2302.04304;
PTQ4DiT, Wu et al., 2024, arXiv:2405.16005; SVDQuant, Li et al., 2024, arXiv:2411.05007 keep
the VAE and text encoders in 16 bits), and some quantize the rest too; this option says which.

Names (``COMPONENTS``): ``denoiser`` (whichever the model has), ``unet``, ``transformer``,
``generator`` (a GAN's network), ``vae_decoder`` (the VAE's ``post_quant_conv`` and
``decoder``: what runs at sampling time; the encoder never does) and ``text_encoder``
(every text encoder of the pipeline: CLIP, T5). Null: the denoiser alone (genq's behaviour
before this option).

The denoiser is quantized by the recipe's method (PTQ with calibration, reconstruction,
timestep-aware scales, or QAT); the other components get the recipe's formats and layer
rules (bits, granularity, observers, ``quant.layers``, ``first_last``, attention bits,
outlier methods) by PTQ, calibrated on what they see when the FP pipeline samples from the
calibration noise: the FP final latents (VAE decoder) and the calibration samples' prompts
plus the negative prompt (text encoders). ``quant.include`` / ``exclude`` / ``overrides``
and a plan file name the denoiser's layers only. Their layers show in the coverage report
as ``<component>.<layer name>`` (the denoiser's names are unprefixed, as before).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genq.config.components import COMPONENTS, DENOISER_ROLES, EXTRA, check_component_names
from genq.errors import GenqError
from genq.quant.report import LayerReport, QuantReport

__all__ = ["COMPONENTS", "DENOISER_ROLES", "EXTRA", "check_component_names", "network_role", "available",
           "resolve", "summary", "quantize_components"]

def network_role(adapter: Any) -> str:
    """What the adapter's ``network`` is: unet | transformer | generator."""
    role = getattr(adapter, "network_role", None)
    if role:
        return role
    if adapter.family == "gan":
        return "generator"
    return "transformer" if "Transformer" in type(adapter.network).__name__ else "unet"


def available(adapter: Any) -> list[str]:
    """The components ``adapter`` has: its denoiser's role, then its extra parts."""
    extras = adapter.extra_components() if hasattr(adapter, "extra_components") else {}
    return [network_role(adapter), *extras]


def resolve(adapter: Any, names: Any) -> list[str]:
    """``quant.components`` as the components of ``adapter`` (``denoiser`` replaced by its
    role, duplicates dropped); a component it lacks is a GenqError naming what it has."""
    check_component_names(names)
    have = available(adapter)
    role = have[0]
    if names is None:
        return [role]
    out: list[str] = []
    for name in names:
        name = role if name == "denoiser" else name
        if name not in have:
            what = getattr(adapter, "source", None) or {}
            model = what.get("repo_id") or type(adapter).__name__
            raise GenqError(f"quant.components has {name!r}, but {model!r} has no such component "
                            f"(its network is a {role}); accepted for this model: denoiser, "
                            f"{', '.join(have)}.")
        if name not in out:
            out.append(name)
    return out


def summary(adapter: Any, quantized: list[str]) -> dict[str, list[str]]:
    """The record's account: which components were quantized and which stayed FP."""
    return {"quantized": list(quantized), "fp": [c for c in available(adapter) if c not in quantized]}


class ComponentModules(nn.Module):
    """The modules of one component as children (shared, not copied), so that ``quantize_``
    swaps their layers in place and names them ``<child>.<layer>``."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)


def _component_recipe(q: Any) -> Any:
    """The recipe a non-denoiser component gets: the formats and rules, without the globs and
    plan files that name the denoiser's layers."""
    q = copy.deepcopy(q)
    for key in ("include", "exclude", "overrides"):
        if hasattr(q, key):
            setattr(q, key, [])
    if getattr(q, "plan", None):
        q.plan = None
    return q


def _fp_latents(fp: Any, noise: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """The final latents the FP sampler reaches from ``noise`` (what the VAE decoder sees)."""
    out, offset = [], 0
    for x in noise.split(batch_size):
        out.append(fp.denoise(x, offset))
        offset += len(x)
    return out


def _feed(fp: Any, qmodel: Any, name: str, q: Any, seed: int) -> Callable[[nn.Module], None]:
    """The calibration pass of component ``name`` of ``qmodel``: the calibration noise
    (``seed + 1``, as the denoiser's) through the FP pipeline, into the component being quantized."""
    noise = fp.make_noise(q.calib_samples, seed + 1)
    if name == "vae_decoder":
        latents = _fp_latents(fp, noise, q.calib_batch_size)
        return lambda _module: [qmodel.decode(z) for z in latents]
    prompts = [qmodel.prompt_of(i) for i in range(len(noise))]
    batches = [prompts[i:i + q.calib_batch_size] for i in range(0, len(prompts), q.calib_batch_size)]
    return lambda _module: [qmodel.calibrate_text(b) for b in batches]


def quantize_components(fp: Any, qmodel: Any, names: list[str], q: Any, seed: int,
                        report: QuantReport) -> dict[str, Any]:
    """PTQ of the non-denoiser components ``names`` of ``qmodel`` (each first copied from
    ``fp``'s shared one); their layers are added to ``report`` with the component's prefix.
    Returns each component's coverage counts."""
    from genq.quant.api import quantize_
    from genq.quant.plan import make_plan

    counts: dict[str, Any] = {}
    recipe = _component_recipe(q)
    for name in names:
        qmodel.own_component(name)
        container = ComponentModules(qmodel.extra_components()[name])
        plan = make_plan(container, recipe, validated=True)
        needs_data = plan.needs_static_calibration() or plan.needs_outlier_statistics()
        feed = _feed(fp, qmodel, name, q, seed) if needs_data else None
        with torch.no_grad():
            part = quantize_(container, calib=feed, plan=plan)
        for layer in part.layers:
            report.layers.append(LayerReport(**{**layer.__dict__, "name": f"{name}.{layer.name}"}))
        counts[name] = part.counts()
    return counts
