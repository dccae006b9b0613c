"""From a simulated (fake-quant) network to what a real int8 backend compiles: a float
network of plain torch layers whose weights are the simulated model's quantized weights,
plus, per layer, the integer grid the simulated model used (weight scales per output
channel, the static input-activation scale and zero point).

The real backend then quantizes with exactly these qparams, so it computes on the same
integers as the simulation (Jacob et al., 2018, arXiv:1712.05877, integer-arithmetic-only
inference). What cannot be mapped onto x86 int8 kernels is listed with the reason; the
caller refuses the model naming those layers.

Two exact graph rewrites make more layers int8-capable:
- ConvTranspose2d -> Conv2d + pixel shuffle (:mod:`genq.bench.backends.subpixel`);
- BatchNorm2d right after a quantized conv (in an ``nn.Sequential``) is folded into it: with
  symmetric per-channel weights the folded layer has the same integers (times the sign of
  the BN gain) at scale ``s * |gamma / sigma|``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from genq.bench.backends.subpixel import (ProjectionConvTranspose2d, SubPixelConvTranspose2d,
                                         projection_applies, subpixel_unsupported)

LAYER_TYPES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


@dataclass
class LayerPlan:
    """One simulated layer and how the real backend runs it."""

    name: str                       # module name in the simulated network
    type: str                       # Linear | Conv2d | ConvTranspose2d
    target: str                     # module name of the plain layer in the lowered network
    w_bits: int | None = None
    w_scale: torch.Tensor | None = None      # per output channel of ``target``
    a_scale: float | None = None
    a_zero_point: int | None = None          # on the uint8 grid [0, a_qmax]
    a_qmax: int = 255                        # largest activation code: 2**a_bits - 1 (7-bit: 127)
    rewrites: list[str] = field(default_factory=list)
    reason: str = ""                # why it cannot run in int8 (empty: it can)

    @property
    def quantized(self) -> bool:
        return self.w_scale is not None and not self.reason


@dataclass
class Lowered:
    network: nn.Module
    plans: list[LayerPlan]

    @property
    def unsupported(self) -> list[LayerPlan]:
        return [p for p in self.plans if p.reason]


def _per_channel(scale: torch.Tensor, n_out: int, axis: int) -> torch.Tensor:
    s = scale.detach().float()
    if s.numel() == 1:
        return s.reshape(1).expand(n_out).clone()
    return s.movedim(axis, 0).reshape(n_out) if s.dim() > 1 else s.reshape(n_out)


def _why_not(mod: nn.Module) -> str:
    """Reason a fake-quantized layer has no x86 int8 kernel here ('' when it has)."""
    from genq.quant.granularity import PerGroup
    from genq.quant.quantizer import FakeQuantizer

    wq, aq = getattr(mod, "weight_quantizer", None), getattr(mod, "input_quantizer", None)
    for role, qz in (("weight", wq), ("input", aq)):
        if qz is not None and type(qz) is not FakeQuantizer:
            return (f"{role} quantizer of type {type(qz).__name__}: only genq's static FakeQuantizer "
                    "maps onto one fixed int8 grid")
    if wq is None or wq.mode != "quant":
        return "activation-only quantization (weights FP): no int8 kernel takes FP weights"
    for role, qz in (("weight", wq), ("input", aq)):
        if qz is not None and not qz.format.is_integer:
            return f"{role} format {qz.format.name}: x86 int8 kernels take integer formats only"
    if isinstance(wq.granularity, PerGroup):
        return f"per-group weights (group {wq.granularity.group_size}): oneDNN int8 takes per-channel scales only"
    if wq.bits > 8 or not wq.symmetric:
        return f"weights int{wq.bits} {'sym' if wq.symmetric else 'asym'}: x86 int8 needs symmetric weights of <= 8 bits"
    if aq is None:
        return "weight-only quantization: no x86 int8 weight-only conv/linear kernel in this stack"
    if aq.dynamic:
        return "dynamic activation scales: the X86 quantizer runs dynamic quantization for Linear only, genq runs static scales"
    if aq.bits > 8 or aq.qmax - aq.qmin != 2 ** aq.bits - 1:
        return f"int{aq.bits} activations: x86 int8 kernels take activations of <= 8 bits"
    if aq.mode != "quant" or aq.scale is None:
        return f"input quantizer in mode {aq.mode!r}: not calibrated"
    if aq.scale.numel() != 1:
        return "per-channel/per-token activation scales: x86 int8 takes one activation scale per tensor"
    if isinstance(mod, nn.ConvTranspose2d) and subpixel_unsupported(mod):
        return f"ConvTranspose2d with {subpixel_unsupported(mod)}: no int8 kernel and no exact Conv2d rewrite"
    return ""


class FlatLinear(nn.Module):
    """Runs ``linear`` on a non-contiguous input flattened to 2-D. diffusers' attention feeds
    to_q/to_k/to_v a transposed (non-contiguous) 3-D view, which Inductor lowers to a batched
    float matmul that its int8 qlinear fusion does not match; a contiguous 2-D input gets the
    int8 kernel. Contiguous inputs go through as they are: a reshape between a Linear and its
    activation (proj -> GELU in a transformer's MLP) would hide the qlinear + unary pattern and
    leave the GELU as a separate kernel. (The quantizer matches ``nn.Linear`` by exact type,
    hence a wrapper, not a subclass; export sees contiguity as a constant of the traced shapes.)"""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 or x.is_contiguous():
            return self.linear(x)
        return self.linear(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], self.linear.out_features)


def _plain_layer(mod: nn.Module, weight: torch.Tensor, input_hw: tuple[int, int] | None) -> nn.Module:
    """A plain torch layer with the simulated layer's hyper-parameters and ``weight``."""
    if isinstance(mod, nn.ConvTranspose2d):
        if projection_applies(mod, input_hw):
            return ProjectionConvTranspose2d(mod, weight=weight)
        return SubPixelConvTranspose2d(mod, weight=weight)
    if isinstance(mod, nn.Linear):
        new = nn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None)
    else:
        new = nn.Conv2d(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                        mod.dilation, mod.groups, mod.bias is not None, mod.padding_mode)
    with torch.no_grad():
        new.weight.copy_(weight)
        if mod.bias is not None:
            new.bias.copy_(mod.bias.detach())
    return FlatLinear(new) if isinstance(new, nn.Linear) else new


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


def _attention_quantizers(network: nn.Module) -> list[str]:
    """Names of diffusers attention modules whose matmul inputs are fake-quantized."""
    names = []
    for name, mod in network.named_modules():
        proc = getattr(mod, "processor", None)
        if proc is not None and any(getattr(proc, k, None) is not None for k in
                                    ("q_quantizer", "k_quantizer", "v_quantizer", "probs_quantizer")):
            names.append(name)
    return names


def _input_sizes(net: nn.Module, example_args: tuple | None) -> dict[str, tuple[int, int]]:
    """Spatial input size of every ConvTranspose2d in one forward pass of ``example_args``."""
    sizes: dict[str, tuple[int, int]] = {}
    if example_args is None:
        return sizes

    def record(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            sizes.setdefault(name, tuple(args[0].shape[-2:]))
        return hook

    hooks = [m.register_forward_pre_hook(record(n)) for n, m in net.named_modules()
             if isinstance(m, nn.ConvTranspose2d)]
    try:
        with torch.no_grad():
            net(*example_args)
    finally:
        for h in hooks:
            h.remove()
    return sizes


def lower(simulated: nn.Module, example_args: tuple | None = None, conv_zero_point: str = "implicit") -> Lowered:
    """A float copy of ``simulated`` with plain layers holding its quantized weights, and
    one :class:`LayerPlan` per fake-quantized layer (``example_args``: one forward pass to
    find ConvTranspose2d layers that see 1x1 inputs and become Linear layers;
    ``conv_zero_point``: how Conv2d layers meet a nonzero input zero point,
    :mod:`genq.bench.backends.conv_zero_point`)."""
    from genq.quant.modules import is_quantized

    net = copy.deepcopy(simulated).eval()
    sizes = _input_sizes(net, example_args)
    plans: list[LayerPlan] = []
    for name in _attention_quantizers(net):
        plans.append(LayerPlan(name, "Attention matmuls", name, reason="quantized attention "
                               "matmuls (attn_bits/softmax_bits): no fused int8 attention kernel on x86"))
    for name, mod in list(net.named_modules()):
        if not is_quantized(mod):
            continue
        if mod.weight_quantizer is None and mod.input_quantizer is None:
            continue                                    # kept FP by the recipe
        if not isinstance(mod, LAYER_TYPES):
            plans.append(LayerPlan(name, type(mod).__name__.removeprefix("Quant"), name,
                                   reason=f"{type(mod).__name__.removeprefix('Quant')}: no x86 int8 "
                                          "lowering for this layer type (Linear, Conv2d, ConvTranspose2d)"))
            continue
        kind = next(t.__name__ for t in LAYER_TYPES if isinstance(mod, t))
        reason = _why_not(mod)
        if reason:
            plans.append(LayerPlan(name, kind, name, reason=reason))
            continue
        wq, aq = mod.weight_quantizer, mod.input_quantizer
        with torch.no_grad():
            weight = mod.quantized_weight().detach().clone()
        axis = mod.genq_target.out_axis
        w_scale = _per_channel(wq.scale, weight.shape[axis], axis)
        new = _plain_layer(mod, weight, sizes.get(name))
        plan = LayerPlan(name, kind, name, w_bits=wq.bits, a_scale=float(aq.scale.reshape(-1)[0]),
                         a_zero_point=int(round(float(aq.zero_point.reshape(-1)[0]))) - aq.qmin,
                         a_qmax=aq.qmax - aq.qmin)
        if isinstance(new, ProjectionConvTranspose2d):
            w_scale = new.channel_map(w_scale)
            plan.target = f"{name}.linear"
            plan.rewrites.append(f"ConvTranspose2d on 1x1 input -> Linear {new.linear.in_features}x"
                                 f"{new.linear.out_features} + reshape")
        elif isinstance(new, FlatLinear):
            plan.target = f"{name}.linear"
        elif isinstance(new, SubPixelConvTranspose2d):
            w_scale = new.channel_map(w_scale)
            plan.target = f"{name}.conv"
            plan.rewrites.append(f"ConvTranspose2d -> Conv2d {tuple(new.conv.kernel_size)} + pixel_shuffle "
                                 f"({new.conv.out_channels} = {new.out_channels}x{new.stride[0] * new.stride[1]} channels)")
        plan.w_scale = w_scale
        _set_module(net, name, new)
        plans.append(plan)
    _fold_batchnorm(net, {p.name: p for p in plans if p.quantized})
    _rewrite_conv_zero_points(net, [p for p in plans if p.quantized], conv_zero_point)
    return Lowered(net, plans)


def _rewrite_conv_zero_points(net: nn.Module, plans: list[LayerPlan], mode: str) -> None:
    """Apply :func:`genq.bench.backends.conv_zero_point.rewrite` to every plain int8 Conv2d
    (after BatchNorm folding: the folded bias is the one corrected)."""
    from genq.bench.backends.conv_zero_point import rewrite

    for plan in plans:
        conv = net.get_submodule(plan.target)
        if type(conv) is not nn.Conv2d:
            continue
        done = rewrite(conv, mode, plan.a_scale, plan.a_zero_point)
        if done is None:
            continue
        new, plan.a_zero_point, note = done
        _set_module(net, plan.target, new)
        plan.target = f"{plan.target}.conv"
        plan.rewrites.append(note)


def _fold_batchnorm(net: nn.Module, plans: dict[str, LayerPlan]) -> None:
    """Fold an eval-mode BatchNorm2d that directly follows a lowered conv in a Sequential."""
    from genq.quant.batchnorm import following_batchnorm

    for full, plan in plans.items():
        found = following_batchnorm(net, full, (nn.BatchNorm2d,))
        if found is None or found[1].running_var is None:
            continue
        b_full, b = found
        a = net.get_submodule(full)
        conv = {SubPixelConvTranspose2d: "conv", ProjectionConvTranspose2d: "linear"}.get(type(a))
        conv = getattr(a, conv) if conv else a
        if not isinstance(conv, (nn.Conv2d, nn.Linear)) or isinstance(a, nn.Linear):
            continue
        gain = b.weight.detach() / torch.sqrt(b.running_var + b.eps)
        shift = b.bias.detach() - b.running_mean * gain
        if isinstance(a, (SubPixelConvTranspose2d, ProjectionConvTranspose2d)):
            gain, shift = a.channel_map(gain), a.channel_map(shift)
        with torch.no_grad():
            conv.weight.mul_(gain.view(-1, *[1] * (conv.weight.dim() - 1)))
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(gain)
            conv.bias = nn.Parameter(bias * gain + shift)
        plan.w_scale = plan.w_scale * gain.abs()
        plan.rewrites.append(f"BatchNorm2d {b_full} folded in")
        _set_module(net, b_full, nn.Identity())
