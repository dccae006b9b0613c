"""Fake quantization of any registered layer, in place.

:func:`quantize_layer` turns a layer of a registered type (:mod:`genq.quant.targets`) into a
fake-quantized one by switching its class to a generated subclass, as torch's
``nn.utils.parametrize`` does: the weight parameter stays where it was (same state-dict
key, same tensor, reachable as :attr:`QuantMixin.weight_fp`) and reading ``layer.weight``
returns ``weight_quantizer(transforms(W))``, so the layer's own ``forward`` computes with
the quantized weight; the input activation goes through ``input_quantizer`` first.
``weight_transforms`` hold updates applied before quantization (LoRA, as EfficientDM's
QALoRA merges them); ``input_transforms`` are applied to the input before the input
quantizer (the online half of smoothing and rotation, :mod:`genq.quant.outliers`), and a
``lowrank`` module, when set, adds its output on the transformed, unquantized input
(SVDQuant's 16-bit branch). Written here rather than with ``parametrize`` itself because a
parametrized weight moves to another state-dict key and cannot hold an update *before*
the quantizer while another one is merged away.

The fake-quantized weight is cached while the weight, the quantizer's tensors and its mode
are unchanged, so simulated inference pays the weight quantization once; nothing needs to
reset the cache by hand. A weight transform that is a fixed function of tensors it names
(``cache_token()``, as the outlier transforms are) keeps the cache; any other (LoRA)
re-quantizes on every read.
"""

from __future__ import annotations

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.targets import LayerTarget, target_for

_CLASSES: dict[type, type] = {}


def _tensor_versions(module: nn.Module, out: list) -> list:
    """(id, version) of every parameter and buffer of ``module`` and its children: what
    ``parameters()``/``buffers()`` would list, walked directly (they build names and memo
    sets; this runs for every layer call)."""
    for t in (*module._parameters.values(), *module._buffers.values()):
        if t is not None:
            out.append((id(t), t._version))
    for child in module._modules.values():
        if child is not None:
            _tensor_versions(child, out)
    return out


def _state_token(quantizer: nn.Module) -> tuple:
    """What the fake-quantized weight depends on inside ``quantizer``."""
    tensors = tuple(_tensor_versions(quantizer, []))
    return (id(quantizer), getattr(quantizer, "mode", None), getattr(quantizer, "soft", None),
            getattr(quantizer, "format", None), getattr(quantizer, "active", None), tensors)


class QuantMixin:
    """What every fake-quantized layer has: ``weight_quantizer``, ``input_quantizer``,
    ``weight_transforms``, the FP weight and its quantized view."""

    weight_quantizer: nn.Module | None
    input_quantizer: nn.Module | None
    genq_target: LayerTarget

    @property
    def weight_fp(self) -> torch.Tensor:
        """The stored (floating-point) weight parameter."""
        return self._parameters[self.genq_target.weight]

    def transformed_weight(self) -> torch.Tensor:
        w = self.weight_fp
        for transform in self.weight_transforms:
            w = transform(w)
        return w

    def quantized_weight(self) -> torch.Tensor:
        wq = self.weight_quantizer
        if wq is None or getattr(wq, "mode", None) != "quant":
            return self.transformed_weight()
        w = self.weight_fp
        transforms = self.weight_transforms
        fixed = all(hasattr(t, "cache_token") for t in transforms)
        if not fixed or self.training or torch.is_grad_enabled() and w.requires_grad \
                or torch.compiler.is_compiling():     # compiled: traced as tensor ops, no cache
            return wq(self.transformed_weight())
        key = (id(w), w._version, _state_token(wq), tuple(t.cache_token() for t in transforms))
        cache = self.__dict__.get("_qweight_cache")
        if cache is None or cache[0] != key:
            with torch.no_grad():
                cache = (key, wq(self.transformed_weight()))
            self.__dict__["_qweight_cache"] = cache
        return cache[1]

    def effective_weight(self, quantized: torch.Tensor | None = None) -> torch.Tensor:
        """The quantized weight in the layer's original input basis: ``quantized`` (default:
        :meth:`quantized_weight`) with the weight transforms undone, last first (smoothing's
        scales divided out, a rotation turned back, a low-rank branch added). What a layer
        that reads its weight beyond the product with the input (StyleGAN's demodulation)
        must use; with no transforms, ``quantized`` itself. A transform without ``inverse``
        is an update in the original basis (LoRA) and stays in."""
        w = self.quantized_weight() if quantized is None else quantized
        for transform in reversed(self.weight_transforms):
            inverse = getattr(transform, "inverse", None)
            if inverse is not None:
                w = inverse(w)
        return w

    def forward(self, *args, **kwargs):
        aq = self.input_quantizer
        transforms = self.__dict__["_modules"].get("input_transforms")
        lowrank = self.__dict__["_modules"].get("lowrank")
        if not transforms and lowrank is None:      # the plain path, as before outlier handling
            if aq is not None:
                if args:
                    args = (aq(args[0]), *args[1:])
                else:
                    name = self.genq_target.input_arg
                    kwargs = {**kwargs, name: aq(kwargs[name])}
            return super().forward(*args, **kwargs)
        name = self.genq_target.input_arg
        x = args[0] if args else kwargs[name]
        for transform in transforms or ():
            x = transform(x)
        branch = None if lowrank is None else lowrank(x)
        if aq is not None:
            x = aq(x)
        if args:
            args = (x, *args[1:])
        else:
            kwargs = {**kwargs, name: x}
        if branch is not None and getattr(self, "genq_lowrank_inside", False):
            # the layer scales its output after the product with the weight (StyleGAN's
            # demodulation): it adds the branch itself, before that scale
            return super().forward(*args, **kwargs, lowrank_out=branch)
        out = super().forward(*args, **kwargs)
        return out if branch is None else out + branch


def _quant_class(cls: type, target: LayerTarget) -> type:
    """The fake-quantized subclass of ``cls`` (one per class, like parametrize's)."""
    if cls not in _CLASSES:
        prop = property(lambda self: self.quantized_weight(), doc="the fake-quantized weight")
        _CLASSES[cls] = type(f"Quant{cls.__name__}", (QuantMixin, cls), {target.weight: prop})
    return _CLASSES[cls]


def is_quantized(module: nn.Module) -> bool:
    return isinstance(module, QuantMixin)


def quantize_layer(module: nn.Module, weight_quantizer: nn.Module | None,
                   input_quantizer: nn.Module | None) -> nn.Module:
    """Make ``module`` (of a registered type) fake-quantized in place; returns it."""
    if is_quantized(module):
        raise GenqError(f"{type(module).__name__} is already quantized; dequantize_layer it first.")
    target = target_for(module)
    if target is None:
        raise GenqError(f"{type(module).__name__} is not a registered layer type; register it "
                        "with genq.quant.register_layer_target.")
    if not isinstance(module._parameters.get(target.weight), torch.Tensor):
        raise GenqError(f"{type(module).__name__} has no parameter {target.weight!r} to quantize.")
    module.__class__ = _quant_class(type(module), target)
    module.genq_target = target
    module.weight_quantizer = weight_quantizer
    module.input_quantizer = input_quantizer
    module.weight_transforms = nn.ModuleList()
    module.input_transforms = nn.ModuleList()
    module.lowrank = None
    return module


def dequantize_layer(module: nn.Module) -> nn.Module:
    """Undo :func:`quantize_layer`: the original class, FP weight, no quantizers."""
    if not is_quantized(module):
        return module
    if len(module.weight_transforms):
        raise GenqError(f"{type(module).__name__} still has weight transforms (LoRA, outlier "
                        "handling); merge or remove them first.")
    if len(module.__dict__["_modules"].get("input_transforms") or ()) or \
            module.__dict__["_modules"].get("lowrank") is not None:
        raise GenqError(f"{type(module).__name__} still has input transforms or a low-rank branch "
                        "(outlier handling); remove them first.")
    for name in ("weight_quantizer", "input_quantizer", "weight_transforms", "input_transforms", "lowrank"):
        if name in module._modules:
            del module._modules[name]
        module.__dict__.pop(name, None)
    module.__dict__.pop("_qweight_cache", None)
    del module.genq_target
    module.__class__ = type(module).__mro__[2]       # (QuantX, QuantMixin, X, ...)
    return module


def drop_weight_caches(network: nn.Module) -> int:
    """Free the cached quantized weights of every fake-quantized layer of ``network`` (they
    are rebuilt on the next forward); the number of caches freed. A full-size model's cache
    is as large as its weights: the speed benchmark frees it between uses."""
    freed = 0
    for module in network.modules():
        freed += module.__dict__.pop("_qweight_cache", None) is not None
    return freed


def _legacy(cls: type) -> type:
    """``QuantLinear.from_float(mod, wq, aq)``: the pre-registry constructor, in place."""
    qcls = _quant_class(cls, target_for(cls))
    qcls.from_float = classmethod(lambda _c, mod, wq, aq: quantize_layer(mod, wq, aq))
    return qcls


QuantLinear = _legacy(nn.Linear)
QuantConv2d = _legacy(nn.Conv2d)
QuantConvTranspose2d = _legacy(nn.ConvTranspose2d)
