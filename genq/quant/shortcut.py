"""Shortcut splitting (Q-Diffusion, Li et al. 2023, arXiv:2302.04304, section 4.3).

A UNet up block concatenates the upsampled features with the skip connection of the same
resolution, ``torch.cat([h, skip], dim=1)``, and feeds the result to a ResNet block. The two
halves have very different ranges (the paper's "bimodal" activations), so one per-tensor
scale wastes most of the grid on one of them. Splitting gives each half its own activation
scale and the matching weight slices their own per-output-channel scales, exactly what
Q-Diffusion's ``QuantModule(split=...)`` does for the ResNet's skip (1x1 shortcut) conv.

In diffusers' ``ResnetBlock2D`` the concatenated tensor reaches two layers: ``norm1``
(GroupNorm, kept in FP) and ``conv_shortcut`` (quantized). ``conv_shortcut`` is split.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from genq.quant.quantizer import FakeQuantizer



def _fresh_copy(q: FakeQuantizer) -> FakeQuantizer:
    """A FakeQuantizer with ``q``'s settings and an empty observer."""
    return q.fresh_copy()


class SplitActQuantizer(nn.Module):
    """Quantizes channels [0, split) and [split, C) of its input with separate scales."""

    def __init__(self, base: FakeQuantizer, split: int) -> None:
        super().__init__()
        self.split = int(split)
        self.bits = base.bits
        self.parts = nn.ModuleList([_fresh_copy(base), _fresh_copy(base)])
        for i, p in enumerate(self.parts):
            p.name = f"{base.name}[{'h' if i == 0 else 'skip'}]"

    @property
    def mode(self) -> str:
        return self.parts[0].mode

    def set_mode(self, mode: str) -> None:
        for p in self.parts:
            p.set_mode(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x[:, :self.split], x[:, self.split:]
        return torch.cat([self.parts[0](a), self.parts[1](b)], dim=1)

    def describe(self) -> str:
        return f"split@{self.split}: {self.parts[0].describe()} | {self.parts[1].describe()}"


class SplitWeightQuantizer(nn.Module):
    """The weight slices that multiply the two halves, each with its own scales."""

    def __init__(self, base: FakeQuantizer, split: int, axis: int = 1) -> None:
        super().__init__()
        self.split, self.axis = int(split), axis           # axis: the weight's input channels
        self.bits, self.symmetric, self.qmin, self.qmax = base.bits, base.symmetric, base.qmin, base.qmax
        self.parts = nn.ModuleList([_fresh_copy(base), _fresh_copy(base)])
        self.mode = "quant"

    @property
    def scale(self) -> torch.Tensor:      # the layers' weight cache keys on it
        return self.parts[0].scale

    def _halves(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = w.shape[self.axis]
        return w.narrow(self.axis, 0, self.split), w.narrow(self.axis, self.split, n - self.split)

    def calibrate_from(self, w: torch.Tensor) -> None:
        for part, half in zip(self.parts, self._halves(w)):
            part.calibrate_from(half)

    def full_qparams(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and zero point expanded to broadcast over the whole weight (for AdaRound)."""
        shapes = [h.shape for h in self._halves(w)]
        scale = torch.cat([p.scale.expand(s) for p, s in zip(self.parts, shapes)], dim=self.axis)
        zp = torch.cat([p.zero_point.expand(s) for p, s in zip(self.parts, shapes)], dim=self.axis)
        return scale, zp

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return torch.cat([p(h) for p, h in zip(self.parts, self._halves(w))], dim=self.axis)

    def describe(self) -> str:
        return f"split@{self.split}: {self.parts[0].describe()}"


def _concat_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Up blocks that concatenate skip connections (diffusers: ``res_hidden_states_tuple``)."""
    found = []
    for name, mod in model.named_modules():
        resnets = getattr(mod, "resnets", None)
        if resnets is None:
            continue
        try:
            params = inspect.signature(mod.forward).parameters
        except (TypeError, ValueError):
            continue
        if "res_hidden_states_tuple" in params:
            found.append((name, mod))
    return found


@torch.no_grad()
def find_concat_splits(model: nn.Module, example: tuple) -> dict[str, int]:
    """Layer name -> channel where the skip half starts, for each layer whose input is a
    concatenation; one forward pass of ``example`` (network inputs) finds the widths."""
    blocks = _concat_blocks(model)
    widths: dict[str, int] = {}
    hooks = []
    for name, blk in blocks:
        def grab(_m, args, kwargs, name=name):
            h = args[0] if args else kwargs["hidden_states"]
            widths[name] = int(h.shape[1])
        hooks.append(blk.register_forward_pre_hook(grab, with_kwargs=True))
    try:
        model(*example)
    finally:
        for h in hooks:
            h.remove()
    splits: dict[str, int] = {}
    for name, blk in blocks:
        for i, resnet in enumerate(blk.resnets):
            first = widths.get(name) if i == 0 else blk.resnets[i - 1].out_channels
            shortcut = getattr(resnet, "conv_shortcut", None)
            if first is not None and shortcut is not None:
                splits[f"{name}.resnets.{i}.conv_shortcut"] = int(first)
    return splits


def apply_shortcut_split(model: nn.Module, splits: dict[str, int]) -> list[str]:
    """Give the layers in ``splits`` split activation and weight quantizers. Activation
    quantizers must still be observing (call before calibration data flows); weight
    quantizers are recalibrated per slice. Returns the names of the split layers."""
    done = []
    for name, split in splits.items():
        layer = model.get_submodule(name)
        aq, wq = getattr(layer, "input_quantizer", None), getattr(layer, "weight_quantizer", None)
        if isinstance(aq, FakeQuantizer) and aq.mode == "observe":
            layer.input_quantizer = SplitActQuantizer(aq, split)
        if isinstance(wq, FakeQuantizer) and wq.mode == "quant":
            swq = SplitWeightQuantizer(wq, split, layer.genq_target.in_axis)
            swq.calibrate_from(layer.weight_fp.detach())
            layer.weight_quantizer = swq
        if layer.input_quantizer is not aq or layer.weight_quantizer is not wq:
            done.append(name)
    return done
