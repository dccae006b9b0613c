"""The registry of quantizable layer types: for each type, the parameter that holds its
weight and the axes that scales run along. Everything that needs to know a layer's axes
(granularities, shortcut splitting, lowering to real kernels, GAN corrections, the plan)
asks :func:`target_for`, so a new layer type (StyleGAN's modulated convolution, DiT's
patch embedding) joins genq by one :func:`register_layer_target` call.

Matching follows the class hierarchy (``isinstance``), most specific registration first,
so subclasses of ``nn.Linear``/``nn.Conv2d`` (diffusers' LoRA-compatible layers) are
quantizable too; an exact-type entry can still override its parent's.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from genq.errors import GenqError


@dataclass(frozen=True)
class LayerTarget:
    """How genq quantizes one layer type.

    - ``weight``: name of the parameter that is fake-quantized (read through a property, so
      the layer's own ``forward`` sees the quantized tensor).
    - ``out_axis``/``in_axis``: the weight's output- and input-channel axes (per-channel
      scales run along ``out_axis``; per-group, per-block and block-format scales along
      ``in_axis``).
    - ``input_channel_axis``: the channel axis of the layer's input activation (per-token
      and block-format activation scales reduce over it).
    - ``input_arg``: the keyword of the input when a caller passes it by name.
    - ``selected_by``: other ``quant.layers`` names that select this type as well as its own
      (StyleGAN's ModulatedConv2d is selected by ``Conv2d`` too, so every recipe that quantizes
      convolutions quantizes it, and ``quant.layers=[ModulatedConv2d]`` alone picks it out).
    - ``channel_transforms``: whether scaling or rotating the input channels (the outlier
      methods, :mod:`genq.quant.outliers`) folds into the weight exactly, i.e. the layer uses
      its weight only in its product with the input, or reads it elsewhere through
      ``QuantMixin.effective_weight`` (StyleGAN's ModulatedConv2d demodulates with the weight
      in the original channel basis). False refuses the outlier methods on the type.
    """

    layer_type: type
    weight: str = "weight"
    out_axis: int = 0
    in_axis: int = 1
    input_channel_axis: int = 1
    input_arg: str = "input"
    selected_by: tuple[str, ...] = ()
    channel_transforms: bool = True

    @property
    def name(self) -> str:
        return self.layer_type.__name__


_TARGETS: dict[type, LayerTarget] = {}


def register_layer_target(layer_type: type, *, weight: str = "weight", out_axis: int = 0,
                          in_axis: int = 1, input_channel_axis: int = 1,
                          input_arg: str = "input", selected_by: tuple[str, ...] = (),
                          channel_transforms: bool = True) -> LayerTarget:
    """Make ``layer_type`` (and its subclasses) quantizable; returns its entry. Registering a
    type again replaces its entry. ``selected_by``: other ``quant.layers`` names that select it;
    ``channel_transforms``: whether outlier methods may scale or rotate its input channels."""
    if not (isinstance(layer_type, type) and issubclass(layer_type, nn.Module)):
        raise GenqError(f"register_layer_target needs an nn.Module subclass, got {layer_type!r}.")
    target = LayerTarget(layer_type, weight, out_axis, in_axis, input_channel_axis, input_arg,
                         tuple(selected_by), channel_transforms)
    _TARGETS[layer_type] = target
    return target


def unregister_layer_target(layer_type: type) -> None:
    """Forget ``layer_type`` (tests and notebooks that registered a type for a while)."""
    _TARGETS.pop(layer_type, None)


def registered_targets() -> dict[str, LayerTarget]:
    """Name -> entry, for every registered type (the names ``quant.layers`` accepts)."""
    return {t.name: t for t in _TARGETS.values()}


def target_for(module: nn.Module | type) -> LayerTarget | None:
    """The entry of ``module``'s most specific registered base class, or None."""
    cls = module if isinstance(module, type) else type(module)
    for base in cls.__mro__:
        if base in _TARGETS:
            return _TARGETS[base]
    return None


def selected(module: nn.Module, names: set[str]) -> bool:
    """Whether ``module`` is of a registered type named in ``names`` (``quant.layers``), by
    its own name or one of its ``selected_by`` names."""
    target = target_for(module)
    return target is not None and (target.name in names or any(n in names for n in target.selected_by))


register_layer_target(nn.Linear, out_axis=0, in_axis=1, input_channel_axis=-1)
register_layer_target(nn.Conv1d, out_axis=0, in_axis=1, input_channel_axis=1)
register_layer_target(nn.Conv2d, out_axis=0, in_axis=1, input_channel_axis=1)
register_layer_target(nn.Conv3d, out_axis=0, in_axis=1, input_channel_axis=1)
register_layer_target(nn.ConvTranspose2d, out_axis=1, in_axis=0, input_channel_axis=1)
