"""The units that reconstruction optimizes one at a time, in forward order.

- ``brecq`` (Li et al., 2021, arXiv:2102.05426): blocks. The adapter names them
  (:meth:`genq.models.base.GeneratorAdapter.reconstruction_blocks`: for diffusers UNets a
  ``ResnetBlock2D`` or an ``Attention`` module, as Q-Diffusion's ``BaseQuantBlock``s); without
  names (a bare network) those two diffusers classes are the blocks. For a GAN generator
  built as ``nn.Sequential`` a block is a quantized (transposed) convolution with the
  normalisation and activation that follow it (the DCGAN's upsampling blocks). Quantized
  layers outside every block are reconstructed alone.
- ``adaround`` (Nagel et al., 2020): every quantized layer alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from genq.quant.attention import is_diffusers_attention
from genq.quant.calibration.data import CalibrationItem
from genq.quant.modules import QuantMixin

BLOCK_CLASSES = ("ResnetBlock2D",)   # the fallback for a network no adapter names blocks of


@dataclass
class Block:
    """Modules (by name) run one after another; the input of the first and the output of
    the last are what reconstruction matches."""

    name: str
    members: list[str]
    kind: str
    layers: list[str] = field(default_factory=list)   # quantized layers inside

    @property
    def first(self) -> str:
        return self.members[0]

    @property
    def last(self) -> str:
        return self.members[-1]


def _default_kind(mod: nn.Module) -> str | None:
    """Without an adapter's names: diffusers' resnet and attention blocks."""
    if type(mod).__name__ in BLOCK_CLASSES:
        return "resnet"
    if is_diffusers_attention(mod):
        return "attention"
    return None


def _quant_layers(model: nn.Module, prefix: str) -> list[str]:
    return [n for n, m in model.named_modules()
            if isinstance(m, QuantMixin) and (n == prefix or n.startswith(prefix + "."))
            and getattr(m, "weight_quantizer", None) is not None]


def find_blocks(model: nn.Module, method: str, names: dict[str, str] | None = None) -> list[Block]:
    """The reconstruction units of ``model`` (not yet in forward order); ``names`` maps the
    modules reconstructed as one block to their kind (None: diffusers' resnet and attention
    blocks)."""
    quant = [n for n, m in model.named_modules()
             if isinstance(m, QuantMixin) and getattr(m, "weight_quantizer", None) is not None]
    if method == "adaround":
        return [Block(n, [n], "layer", [n]) for n in quant]
    blocks: list[Block] = []
    covered: set[str] = set()
    for name, mod in model.named_modules():
        if any(name.startswith(b.name + ".") for b in blocks):
            continue
        kind = _default_kind(mod) if names is None else names.get(name)
        if kind and name:
            layers = _quant_layers(model, name)
            if layers:
                blocks.append(Block(name, [name], kind, layers))
                covered.update(layers)
        elif isinstance(mod, nn.Sequential):
            blocks += _sequential_blocks(name, mod, covered)
    blocks += [Block(n, [n], "layer", [n]) for n in quant if n not in covered]
    return blocks


def _sequential_blocks(name: str, seq: nn.Sequential, covered: set[str]) -> list[Block]:
    """[quantized layer, following non-quantized modules...] runs of a Sequential."""
    out: list[Block] = []
    prefix = f"{name}." if name else ""
    for cname, child in seq.named_children():
        full = prefix + cname
        if isinstance(child, QuantMixin) and getattr(child, "weight_quantizer", None) is not None \
                and full not in covered:
            out.append(Block(full, [full], "sequential", [full]))
            covered.add(full)
        elif out and not any(isinstance(m, QuantMixin) for m in child.modules()):
            out[-1].members.append(full)
        elif out:
            break
    for b in out:
        if len(b.members) > 1:
            b.name = f"{b.first}..{b.last.rsplit('.', 1)[-1]}"
    return out


@torch.no_grad()
def forward_order(model: nn.Module, blocks: list[Block], example: Any) -> list[Block]:
    """``blocks`` sorted by when their first module first runs on ``example``."""
    seen: dict[str, int] = {}
    hooks = []
    for b in blocks:
        def mark(_m, _args, name=b.first):
            seen.setdefault(name, len(seen))
        hooks.append(model.get_submodule(b.first).register_forward_pre_hook(mark))
    try:
        CalibrationItem.of(example)(model)
    finally:
        for h in hooks:
            h.remove()
    return sorted((b for b in blocks if b.first in seen), key=lambda b: seen[b.first])
