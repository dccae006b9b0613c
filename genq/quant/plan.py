"""The public per-module quantization plan: what every layer gets, decided before anything
is quantized, and a file a researcher can read, edit and apply.

``make_plan(model, recipe)`` resolves a recipe (layer types, include/exclude globs, the
first/last policy, per-pattern overrides, formats, granularity, observers) into one
:class:`LayerSpec` per selected layer, and one :class:`AttentionSpec` per attention module
whose matmuls are quantized. ``plan.save(path)`` / ``QuantPlan.load(path)`` round-trip it
as JSON; :func:`genq.quant.apply.apply_plan` applies it and :func:`calibrate` calibrates,
as separate steps (torchao's ``quantize_`` with an ``FqnToConfig`` is the model: one
config per fully qualified module name).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Optional

from torch import nn

from genq.errors import GenqError
from genq.tracking.record import write_json_atomic
from genq.quant.formats import BlockFormat, parse_format
from genq.quant.modules import is_quantized
from genq.quant.targets import registered_targets, selected, target_for

PLAN_VERSION = 1


@dataclass
class TensorSpec:
    """How one tensor (a weight, a layer input, an attention matmul input) is quantized."""

    format: str                          # int4, uint8, fp8_e4m3, mxfp4, nvfp4, ...
    symmetric: bool = True               # integer formats: signed with zero point 0
    granularity: str = "per_tensor"      # per_tensor | per_channel | per_group | per_block | per_token
    group_size: Optional[int] = None     # per_group / per_block
    observer: Optional[str] = "minmax"   # static scales; null: dynamic or block-scaled
    dynamic: bool = False                # scales from every batch at run time
    options: dict[str, Any] = field(default_factory=dict)   # observer options

    def fmt(self):
        return parse_format(self.format, self.symmetric)

    @property
    def static(self) -> bool:
        """Scales calibrated on data (activations) rather than computed at run time."""
        return not self.dynamic and not isinstance(self.fmt(), BlockFormat)


@dataclass
class OutlierSpec:
    """The outlier method one layer gets before quantization (:mod:`genq.quant.outliers`).

    ``rank`` is the low-rank branch's resolved rank (``svd``); ``online`` names what runs
    at inference on the layer's input because it cannot be folded into a stored weight
    (the smoothing division, the activation rotation)."""

    method: str                          # smooth | rotate | svd
    alpha: Optional[float] = None        # smooth, svd
    rank: Optional[int] = None           # svd
    seed: int = 0                        # rotate: the random orthogonal factor of odd sizes
    online: str = ""

    @property
    def needs_statistics(self) -> bool:
        """Whether calibration activation statistics are needed (smoothing scales)."""
        return self.method in ("smooth", "svd")


@dataclass
class LayerSpec:
    """One selected layer: its weight and input specs, or kept in FP with the reason."""

    name: str
    layer_type: str
    weight: Optional[TensorSpec] = None
    input: Optional[TensorSpec] = None
    keep_fp: bool = False
    reason: str = ""
    outlier: Optional[OutlierSpec] = None


@dataclass
class AttentionSpec:
    """The two matmuls of one attention module: Q, K, V inputs and the softmax output."""

    name: str
    qkv: Optional[TensorSpec] = None
    softmax: Optional[TensorSpec] = None


@dataclass
class QuantPlan:
    layers: list[LayerSpec] = field(default_factory=list)
    attention: list[AttentionSpec] = field(default_factory=list)
    recipe: str = "custom"

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise GenqError(f"the plan has no layer {name!r}; layers look like: "
                        f"{', '.join(s.name for s in self.layers[:4])}.")

    def tensors(self) -> Iterable[TensorSpec]:
        for s in self.layers:
            if not s.keep_fp:
                yield from (t for t in (s.weight, s.input) if t is not None)
        for a in self.attention:
            yield from (t for t in (a.qkv, a.softmax) if t is not None)

    def needs_static_calibration(self) -> bool:
        """Whether any activation gets static scales, i.e. calibration data must be run.
        The one place genq decides it (PTQ, QAT and ``quantize_`` ask here)."""
        inputs = [s.input for s in self.layers if not s.keep_fp]
        inputs += [t for a in self.attention for t in (a.qkv, a.softmax)]
        return any(t is not None and t.static for t in inputs)

    def needs_outlier_statistics(self) -> bool:
        """Whether a layer's outlier method needs calibration activation statistics."""
        return any(s.outlier is not None and s.outlier.needs_statistics
                   for s in self.layers if not s.keep_fp)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for layer in data["layers"]:      # plans without outlier handling read as before
            if layer["outlier"] is None:
                del layer["outlier"]
        return {"genq_plan_version": PLAN_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuantPlan":
        version = data.get("genq_plan_version")
        if version != PLAN_VERSION:
            raise GenqError(f"plan version {version!r} is not supported; accepted: {PLAN_VERSION}.")
        def tensor(d):
            return None if d is None else TensorSpec(**d)
        try:
            layers = [LayerSpec(**{**d, "weight": tensor(d.get("weight")), "input": tensor(d.get("input")),
                                   "outlier": None if d.get("outlier") is None else OutlierSpec(**d["outlier"])})
                      for d in data["layers"]]
            attention = [AttentionSpec(d["name"], tensor(d.get("qkv")), tensor(d.get("softmax")))
                         for d in data.get("attention", [])]
        except (KeyError, TypeError) as e:
            raise GenqError(f"the plan file is malformed ({e}); accepted: a file written by "
                            "QuantPlan.save.") from None
        plan = cls(layers, attention, data.get("recipe", "custom"))
        for t in plan.tensors():
            t.fmt()                       # an unknown format fails here, naming it
        return plan

    def save(self, path: str | Path) -> Path:
        """Write the plan as JSON (atomically)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "QuantPlan":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise GenqError(f"plan file {path} does not exist.") from None
        except json.JSONDecodeError as e:
            raise GenqError(f"plan file {path} is not JSON ({e}).") from None
        return cls.from_dict(data)


# --- recipe -> plan ---------------------------------------------------------------------

def _check_layer_names(names: Iterable[str]) -> set[str]:
    known = registered_targets()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GenqError(f"quant.layers has unknown layer type {unknown[0]!r}; accepted: "
                        f"{', '.join(sorted(known))} (or register a type with "
                        "genq.quant.register_layer_target).")
    return set(names)


def _check_patterns(config: Any, names: list[str]) -> None:
    keyed = [("quant.include", p) for p in config.include] + \
            [("quant.exclude", p) for p in config.exclude] + \
            [("quant.overrides.pattern", o.pattern) for o in config.overrides]
    for key, pattern in keyed:
        if not any(fnmatchcase(n, pattern) for n in names):
            examples = ", ".join(n for n in names[:4])
            raise GenqError(f"{key} pattern {pattern!r} matches no module; names look like: {examples}.")


def _format_name(fmt_name: Optional[str], bits: Optional[int]) -> Optional[str]:
    if fmt_name:
        return str(fmt_name)
    return None if bits is None else f"int{bits}"


def _observer_options(config: Any) -> dict[str, Any]:
    return {"percentile": config.percentile, "averaging_constant": config.ema_averaging,
            "grid": config.mse_grid, "seed": getattr(config, "seed", 0)}


def weight_spec(config: Any, fmt_name: str) -> TensorSpec:
    gran = config.granularity
    return TensorSpec(fmt_name, config.w_symmetric, gran,
                      config.group_size if gran in ("per_group", "per_block") else None,
                      config.w_observer, False, _observer_options(config))


def activation_spec(config: Any, fmt_name: str, symmetric: Optional[bool] = None) -> TensorSpec:
    symmetric = config.a_symmetric if symmetric is None else symmetric
    if config.a_dynamic:
        return TensorSpec(fmt_name, symmetric, config.a_granularity, None, None, True, {})
    return TensorSpec(fmt_name, symmetric, "per_tensor", None, config.observer, False,
                      _observer_options(config))


def _layer_formats(name: str, index: int, count: int, config: Any) -> tuple[Optional[str], Optional[str], str] | str:
    """(weight format, input format, reason) for layer ``name``, or why it stays in FP."""
    if config.include and not any(fnmatchcase(name, p) for p in config.include):
        return "not matched by quant.include"
    for p in config.exclude:
        if fnmatchcase(name, p):
            return f"excluded by quant.exclude {p!r}"
    w = _format_name(getattr(config, "w_format", None), config.w_bits)
    a = _format_name(getattr(config, "a_format", None), config.a_bits)
    reason = ""
    edge = "first" if index == 0 else "last" if index == count - 1 else None
    if edge and config.first_last == "fp":
        return f"{edge} layer kept in FP (quant.first_last=fp)"
    if edge and config.first_last == "int8":
        w, a = ("int8" if w else None), ("int8" if a else None)
        reason = f"{edge} layer at 8 bits (quant.first_last=int8)"
    for o in config.overrides:
        if fnmatchcase(name, o.pattern):
            if o.keep_fp:
                return f"kept in FP by quant.overrides {o.pattern!r}"
            w = _format_name(getattr(o, "w_format", None), o.w_bits) or w
            a = _format_name(getattr(o, "a_format", None), o.a_bits) or a
            reason = f"bits from quant.overrides {o.pattern!r}"
    if w is None and a is None:
        return "no bits set for this layer"
    return w, a, reason


def _check_weight_layout(name: str, mod: nn.Module, spec: TensorSpec) -> None:
    """Group, block and block-format sizes must divide the weight's channels (checked before
    any weight is touched)."""
    target = target_for(mod)
    weight = mod._parameters[target.weight]
    fmt = spec.fmt()
    n_in, n_out = weight.shape[target.in_axis], weight.shape[target.out_axis]
    if isinstance(fmt, BlockFormat) and n_in % fmt.block_size:
        raise GenqError(f"{fmt.name} needs blocks of {fmt.block_size} input channels but {name} has "
                        f"{n_in}; accepted: layers whose input channels are a multiple of "
                        f"{fmt.block_size} (exclude {name} or keep it in another format).")
    if spec.granularity == "per_group" and n_in % spec.group_size:
        raise GenqError(f"quant.group_size={spec.group_size} does not divide the {n_in} input "
                        f"channels of {name}; accepted: a divisor of {n_in}, or another granularity.")
    if spec.granularity == "per_block" and (n_in % spec.group_size or n_out % spec.group_size):
        raise GenqError(f"quant.group_size={spec.group_size} (per_block) does not tile the "
                        f"{n_out}x{n_in} weight of {name}; accepted: a divisor of both.")


def _attention_specs(model: nn.Module, config: Any) -> list[AttentionSpec]:
    attn_bits, softmax_bits = getattr(config, "attn_bits", None), getattr(config, "softmax_bits", None)
    if attn_bits is None and softmax_bits is None:
        return []
    from genq.quant.attention import is_attention

    specs = []
    for name, mod in model.named_modules():
        if is_attention(mod):
            qkv = None if attn_bits is None else activation_spec(config, f"int{attn_bits}")
            # probabilities lie in [0, 1]: unsigned
            soft = None if softmax_bits is None else activation_spec(config, f"int{softmax_bits}", False)
            specs.append(AttentionSpec(name, qkv, soft))
    if not specs:
        raise GenqError("quant.attn_bits/quant.softmax_bits are set but the model has no diffusers "
                        "attention module; accepted: null for models without attention.")
    return specs


def recipe_needs_static_calibration(config: Any) -> bool:
    """Whether a recipe quantizes any activation with static scales (the base activation
    format, any override's, attention): the recipe-level twin of
    :meth:`QuantPlan.needs_static_calibration`, decided by the same :attr:`TensorSpec.static`."""
    formats = [_format_name(getattr(config, "a_format", None), config.a_bits)]
    formats += [_format_name(getattr(o, "a_format", None), o.a_bits) for o in config.overrides
                if not o.keep_fp]
    formats += [None if b is None else f"int{b}" for b in (getattr(config, "attn_bits", None),
                                                          getattr(config, "softmax_bits", None))]
    return any(activation_spec(config, f).static for f in formats if f is not None)


def outlier_spec(name: str, mod: nn.Module, spec: LayerSpec, config: Any) -> Optional[OutlierSpec]:
    """The outlier method ``config.outlier`` gives layer ``name`` (None: method none, or a
    low-rank branch for a layer whose weight stays FP). Refuses what the method cannot do
    to this layer, naming it."""
    o = getattr(config, "outlier", None)
    if o is None or o.method == "none" or (o.method == "svd" and spec.weight is None):
        return None
    from genq.quant.outliers.install import check_outlier_layer, online_note, resolve_rank

    check_outlier_layer(name, mod, o.method)
    rank = resolve_rank(name, mod, o.rank) if o.method == "svd" else None
    alpha = float(o.alpha) if o.method in ("smooth", "svd") else None
    return OutlierSpec(o.method, alpha, rank, int(getattr(config, "seed", 0)), online_note(o.method, mod))


def plan_for(model: nn.Module, recipe: Any, validated: bool = False) -> QuantPlan:
    """The plan a run applies: the file ``recipe.plan`` names (QuantPlan.save), or the
    recipe's own (:func:`make_plan`)."""
    path = getattr(recipe, "plan", None)
    if path:
        return QuantPlan.load(path)
    return make_plan(model, recipe, validated)


def make_plan(model: nn.Module, recipe: Any = None, validated: bool = False) -> QuantPlan:
    """The per-module plan ``recipe`` (a QuantRecipe or a ``quant`` config) gives ``model``.
    Every check that a recipe can fail (unknown layer types or formats, globs that match
    nothing, sizes that do not divide a layer) runs here, before anything is quantized."""
    from genq.config import validate_quant
    from genq.quant.recipe import QuantRecipe

    config = QuantRecipe() if recipe is None else recipe
    if not validated:                     # genq.config.validate ran it on the CLI path
        validate_quant(config)
    types = _check_layer_names(config.layers)
    names = [n for n, _ in model.named_modules() if n]
    _check_patterns(config, names)
    candidates = [(n, m) for n, m in model.named_modules()
                  if target_for(m) is not None and not is_quantized(m) and selected(m, types)]
    if any(n == "" for n, _ in candidates):
        raise GenqError("quantize_ needs a model that contains layers, not a single layer; "
                        "wrap it in nn.Sequential.")
    plan = QuantPlan(recipe=str(getattr(config, "recipe", "custom")))
    for i, (name, mod) in enumerate(candidates):
        decided = _layer_formats(name, i, len(candidates), config)
        if isinstance(decided, str):
            plan.layers.append(LayerSpec(name, type(mod).__name__, keep_fp=True, reason=decided))
            continue
        w, a, reason = decided
        spec = LayerSpec(name, type(mod).__name__,
                         weight_spec(config, w) if w else None,
                         activation_spec(config, a) if a else None, reason=reason)
        if spec.weight is not None:
            _check_weight_layout(name, mod, spec.weight)
        spec.outlier = outlier_spec(name, mod, spec, config)
        plan.layers.append(spec)
    plan.attention = _attention_specs(model, config)
    return plan
