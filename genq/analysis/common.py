"""Helpers shared by the diagnostics: quantized copies of a generator under a modified
recipe, and the units (layers or blocks) that sensitivity analysis toggles."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from genq.models.base import GeneratorAdapter
from genq.quant import quantize_
from genq.quant.modules import is_quantized
from genq.quant.targets import target_for


def as_recipe(quant_cfg: Any, **changes: Any) -> Any:
    """A copy of a quant config (DictConfig or dataclass) with ``changes`` applied."""
    if OmegaConf.is_config(quant_cfg):
        return OmegaConf.merge(quant_cfg, changes)
    return replace(quant_cfg, **changes)


def quantized_copy(fp: GeneratorAdapter, quant_cfg: Any, calib: list, **changes: Any) -> GeneratorAdapter:
    """A deep copy of ``fp`` quantized with ``quant_cfg`` (plus ``changes``, e.g. include=[...])."""
    q = fp.clone()
    quantize_(q.network, as_recipe(quant_cfg, **changes), calib=calib)
    return q


def quantizable_layers(network: nn.Module) -> list[str]:
    """Names of the layers quantize_ can swap, in forward order of definition."""
    return [n for n, m in network.named_modules() if n and target_for(m) is not None and not is_quantized(m)]


BLOCK_LISTS = ("down_blocks", "up_blocks", "transformer_blocks")     # each entry is its own block


def units(network: nn.Module, level: str = "layer") -> dict[str, list[str]]:
    """Sensitivity units: every quantizable layer, or blocks (a network's direct children,
    and the entries of diffusers UNets' down_blocks/up_blocks and of transformers'
    transformer_blocks) as name globs."""
    layers = quantizable_layers(network)
    if level == "layer":
        return {n: [n] for n in layers}
    groups: dict[str, list[str]] = {}
    for n in layers:
        parts = n.split(".")
        key = ".".join(parts[:2]) if parts[0] in BLOCK_LISTS and len(parts) > 2 else parts[0]
        groups.setdefault(key, []).append(n)
    return groups


def sqnr_db(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio, 10 log10(||x||^2 / ||x - x_hat||^2), in dB."""
    noise = (x - x_hat).double().pow(2).sum()
    signal = x.double().pow(2).sum()
    return float("inf") if noise == 0 else float(10 * torch.log10(signal / noise))
