"""The recipe label: a quant config named by what it does, not by the file it came from.

``quant.recipe`` used to be written by hand in each ``configs/quant/*.yaml``, so
``quant=w8a8 quant.w_bits=4`` was filed and recorded as ``w8a8``. Now the schema's default
``recipe`` is the interpolation ``${recipe_label:}``, which :func:`recipe_label` resolves
from the effective settings; the 44 named recipes (``w4a4_qdiffusion``, ``qat_lora_w4a4``...)
are exactly the labels of their own settings. Scheme (``docs/recipes.md``)::

    fp32                                      method=fp
    [qat_lsq_|qat_lora_] w{W}a{A} [_method...] [_quantizer...]

- ``W``/``A``: ``w_bits``/``a_bits``, ``16`` where that tensor stays in floating point
  (``w4a16``; ``w16a8`` quantizes activations only).
- QAT prefix: ``qat_lora_`` when ``qat.lora_rank > 0``, else ``qat_lsq_``.
- method suffixes, from the PTQ-method settings (:data:`NAMED_METHODS`): the settings each
  named method turns on are consumed greedily, largest named method first; settings no named
  method covers are appended as their own tokens (:data:`LEFTOVER_TOKENS`).
- outlier suffix (``quant.outlier.method``): ``smooth``, ``rotate``, ``svd_r<rank>``
  (``svd_r8``, ``svd_r0.25``); ``alpha`` is a hyperparameter and does not show.
- quantizer suffixes, for every setting away from the baseline (:data:`BASELINE`):
  ``dynamic``, ``per_token``, ``w_per_tensor``, ``g{group_size}``, ``w_asym``, ``a_sym``,
  observers (``mse`` when weights and activations share a non-baseline observer, else
  ``w_<observer>`` / ``a_<observer>``; QAT's baseline observers are ``mse``), ``w_frozen``
  (QAT learning the step sizes only), ``attn{bits}``, ``softmax{bits}``, ``first_last_fp`` /
  ``first_last_int8``, ``layers_<types>``, ``include{n}``, ``exclude{n}``, ``overrides{n}``,
  ``plan`` (a plan file), ``schedule`` (a precision schedule file), ``comp_<names>``
  (``quant.components`` set: ``comp_transformer-vae_decoder``).
- ``auto``: the mixed-precision allocator (``quant=auto``); its budget is in the record.

Hyperparameters (calibration samples, timesteps kept, iterations, learning rates, the
percentile, QAT steps) are not part of the label; the record keeps every setting. A
setting that does not apply (the weight observer of a recipe with FP weights, the
activation observer of dynamic activations) does not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The settings a label is relative to: the QuantConfig defaults (tests/test_recipe_label.py
# checks they agree). A setting away from these shows as a suffix.
BASELINE: dict[str, Any] = {
    "method": "fp", "w_bits": None, "a_bits": None, "w_format": None, "a_format": None, "plan": None, "schedule": None, "auto": False, "granularity": "per_channel", "group_size": None,
    "w_symmetric": True, "a_symmetric": False, "a_dynamic": False, "a_granularity": "per_tensor",
    "observer": "minmax", "w_observer": "minmax", "attn_bits": None, "softmax_bits": None,
    "layers": ["Linear", "Conv2d", "ConvTranspose2d"], "include": [], "exclude": [],
    "first_last": "quantize", "overrides": [],
    "calibration.sampler": "trajectory", "calibration.step": -1, "calibration.shortcut_split": False,
    "calibration.timestep_buckets": 0, "reconstruction.method": "none",
    "reconstruction.learn_act_scale": False, "reconstruction.bias_correction": False,
    "reconstruction.bn_reestimate": False, "qat.lora_rank": 0, "qat.learn_weights": True,
    "outlier.method": "none", "outlier.rank": 8.0, "components": None,
}
QAT_OBSERVER = "mse"        # QAT starts from MSE-searched ranges (the qat_* recipes)

# Named PTQ methods: the method tokens each one stands for. Matched greedily, the largest
# first (ties: this order); each token is consumed once.
NAMED_METHODS: tuple[tuple[str, frozenset[str]], ...] = (
    ("qdiffusion", frozenset({"uniform", "split", "brecq", "act_lsq"})),   # Li et al. 2023
    ("gan_brecq", frozenset({"brecq", "bias_corr", "bn_reest"})),
    ("tdq", frozenset({"uniform", "split", "tbuckets"})),                  # So et al. 2023, light
    ("qdiff_split", frozenset({"uniform", "split"})),
    ("gan_bc", frozenset({"bias_corr", "bn_reest"})),                      # Nagel et al. 2019
    ("qdiff_calib", frozenset({"uniform"})),
    ("ptq4dm", frozenset({"normal"})),                                     # Shang et al. 2023
    ("last", frozenset({"last"})),
    ("brecq", frozenset({"brecq"})),                                       # Li et al. 2021
    ("adaround", frozenset({"adaround"})),                                 # Nagel et al. 2020
)
# Method tokens no named method may cover, in the order they are appended.
LEFTOVER_TOKENS = ("split", "tbuckets", "act_lsq", "bias_corr", "bn_reest")


def _get(q: Any, dotted: str) -> Any:
    """``q``'s setting at ``dotted`` (a DictConfig, a dict or a dataclass); the baseline where
    a (partial, older) config lacks it."""
    node: Any = q
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif not isinstance(node, Mapping) and hasattr(node, part):
            node = getattr(node, part)
        else:
            return BASELINE.get(dotted)
    return node


def _bits(value: Any) -> str:
    return "16" if value is None else str(value)


def method_tokens(q: Any) -> list[str]:
    """The PTQ-method settings of ``q`` that are on, one token each (unordered meaning)."""
    tokens = []
    sampler = _get(q, "calibration.sampler")
    if sampler in ("uniform", "normal"):
        tokens.append(sampler)
    elif sampler == "single":
        step = _get(q, "calibration.step")
        tokens.append("last" if step == -1 else f"step{step}")
    if _get(q, "calibration.shortcut_split"):
        tokens.append("split")
    if (_get(q, "calibration.timestep_buckets") or 0) > 0:
        tokens.append("tbuckets")
    recon = _get(q, "reconstruction.method")
    if recon not in (None, "none"):
        tokens.append(str(recon))
    for key, token in (("learn_act_scale", "act_lsq"), ("bias_correction", "bias_corr"),
                       ("bn_reestimate", "bn_reest")):
        if _get(q, f"reconstruction.{key}"):
            tokens.append(token)
    return tokens


def method_suffix(tokens: list[str]) -> list[str]:
    """Method tokens named: named methods greedily (largest first), then what is left."""
    left = set(tokens)
    names = []
    for name, needs in sorted(NAMED_METHODS, key=lambda m: -len(m[1])):   # stable: ties keep order
        if needs <= left:
            names.append(name)
            left -= needs
    order = [name for name, _ in NAMED_METHODS]
    names.sort(key=order.index)
    rest = [t for t in LEFTOVER_TOKENS if t in left]
    rest += sorted(left - set(rest))                 # step{k} of the single-step sampler
    return names + rest


def quantizer_suffix(q: Any) -> list[str]:
    """Tokens for the quantizer settings away from the baseline (see the module docstring)."""
    out = []
    weights = _get(q, "w_bits") is not None or _get(q, "w_format") is not None
    acts = any(_get(q, k) is not None for k in ("a_bits", "a_format", "attn_bits", "softmax_bits"))
    dynamic = acts and bool(_get(q, "a_dynamic"))
    if dynamic:
        out.append("dynamic")
        if _get(q, "a_granularity") == "per_token":
            out.append("per_token")
    if weights:
        granularity = _get(q, "granularity")
        if granularity == "per_tensor":
            out.append("w_per_tensor")
        elif granularity == "per_group":
            out.append(f"g{_get(q, 'group_size')}")
        elif granularity == "per_block":
            out.append(f"b{_get(q, 'group_size')}")
        if not _get(q, "w_symmetric"):
            out.append("w_asym")
    if acts and _get(q, "a_symmetric"):
        out.append("a_sym")
    base = QAT_OBSERVER if _get(q, "method") == "qat" else BASELINE["observer"]
    w_obs = _get(q, "w_observer") if weights and _get(q, "w_observer") != base else None
    a_obs = _get(q, "observer") if acts and not dynamic and _get(q, "observer") != base else None
    if w_obs and w_obs == a_obs:
        out.append(str(w_obs))
    else:
        out += [f"w_{w_obs}"] if w_obs else []
        out += [f"a_{a_obs}"] if a_obs else []
    if _get(q, "method") == "qat" and not _get(q, "qat.learn_weights") and not _get(q, "qat.lora_rank"):
        out.append("w_frozen")                  # QAT learns the step sizes only
    for key, name in (("attn_bits", "attn"), ("softmax_bits", "softmax")):
        if _get(q, key) is not None:
            out.append(f"{name}{_get(q, key)}")
    if _get(q, "first_last") != BASELINE["first_last"]:
        out.append(f"first_last_{_get(q, 'first_last')}")
    layers = list(_get(q, "layers") or [])
    if layers != BASELINE["layers"]:
        out.append("layers_" + "-".join(str(t).lower() for t in layers))
    for key in ("include", "exclude", "overrides"):
        n = len(_get(q, key) or [])
        if n:
            out.append(f"{key}{n}")
    if _get(q, "plan"):
        out.append("plan")                      # a plan file decides the layers
    if _get(q, "schedule"):
        out.append("schedule")                  # a schedule file: plans per window of steps
    components = [str(c) for c in (_get(q, "components") or [])]
    if set(components) - {"denoiser", "unet", "transformer", "generator"}:   # more than the denoiser
        out.append("comp_" + "-".join(components))            # (genq.quant.components)
    return out


def outlier_suffix(q: Any) -> list[str]:
    """The outlier method (genq.config.outlier): ``smooth``, ``rotate``, ``svd_r<rank>``."""
    method = _get(q, "outlier.method")
    if method in (None, "none"):
        return []
    if method == "svd":
        from genq.config.outlier import rank_token

        return [f"svd_r{rank_token(_get(q, 'outlier.rank'))}"]
    return [str(method)]


def recipe_label(q: Any) -> str:
    """The label of quant config ``q`` (DictConfig, dict or dataclass) derived from its
    effective settings, e.g. ``w4a8``, ``w4a4_qdiffusion``, ``qat_lora_w4a4``, ``w4a8_a_mse``,
    ``w4a16_g32``. Never reads ``q.recipe``."""
    method = _get(q, "method")
    if method == "fp":
        return "fp32"
    if _get(q, "auto"):
        return "auto"                           # the allocator: the record holds its budget
    head = f"w{_bits(_get(q, 'w_bits'))}a{_bits(_get(q, 'a_bits'))}"
    w_fmt, a_fmt = _get(q, "w_format"), _get(q, "a_format")
    if w_fmt or a_fmt:        # named formats win over bits: w_nvfp4_a_fp8_e4m3, w_mxfp4_a_16
        head = (f"w_{w_fmt or _bits(_get(q, 'w_bits'))}_a_{a_fmt or _bits(_get(q, 'a_bits'))}")
    if method == "qat":
        head = ("qat_lora_" if (_get(q, "qat.lora_rank") or 0) > 0 else "qat_lsq_") + head
    return "_".join([head] + method_suffix(method_tokens(q)) + outlier_suffix(q) + quantizer_suffix(q))


def recipe_bits(q: Any) -> tuple[Any, Any]:
    """(w_bits, a_bits) a record states: a named format's bits win over the recipe's
    ``w_bits``/``a_bits`` (``quant=w4a4 quant.w_format=fp8_e4m3`` has 8-bit weights). Imports
    the formats (and torch) only when a format is named."""
    bits = [_get(q, "w_bits"), _get(q, "a_bits")]
    for i, role in enumerate(("w", "a")):
        name = _get(q, f"{role}_format")
        if name:
            from genq.quant.formats import parse_format   # lazily: no torch for plain recipes
            bits[i] = parse_format(name).bits
    return bits[0], bits[1]


def _resolve_label(*, _parent_: Any) -> str:
    return recipe_label(_parent_)


def register_label_resolver() -> None:
    """Register ``${recipe_label:}`` (the default of ``quant.recipe``): the label of the quant
    node holding it. Not cached, so later overrides of that node show."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("recipe_label"):
        OmegaConf.register_new_resolver("recipe_label", _resolve_label)
