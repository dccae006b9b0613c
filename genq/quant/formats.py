"""Number formats as objects: what a quantized tensor's elements can hold.

A format knows its grid and nothing about where it is used: how to turn an observed range
into a scale (and zero point), how to quantize-dequantize a tensor given that scale, its
largest value, and what one element costs in bits including any shared scales. Fake
quantizers, observers, LSQ, AdaRound, size accounting and the real backends take a format
instead of ``bits``, so a new format joins by writing one class here.

- :class:`IntFormat`: uniform affine integers (Jacob et al., 2018, arXiv:1712.05877);
  symmetric = signed with zero point 0, asymmetric = unsigned with an integer zero point.
  Bit-identical to genq's integer path before formats existed.
- :class:`FloatFormat`: minifloats with ``exp_bits``/``man_bits`` (FP8 E4M3/E5M2 of
  Micikevicius et al., 2022, arXiv:2209.05433; FP6/FP4 elements of the OCP Microscaling
  spec v1.0, Rouhani et al., 2023, arXiv:2310.10537), scaled per tensor/channel so the
  observed maximum maps to the format's largest value.
- :class:`BlockFormat`: block-scaled formats, one shared scale per ``block_size``
  consecutive elements along the reduction axis, the scale itself stored in a small format
  (MX: power-of-two E8M0 scales over 32 elements; NVFP4: E4M3 scales over 16 E2M1 elements,
  under a per-tensor FP32 scale). Their scales come from each block's values, so they are
  computed at run time (activations) or once (weights), never from an observer.

Written here rather than taken from torchao because genq needs the simulated (fake-quant)
numerics of every format on any axis and granularity, with straight-through gradients.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Protocol, Union

import torch

from genq.errors import GenqError
from genq.quant.granularity import PerGroup
from genq.quant.kernels.block_fake_quant import native_block_fake_quantize
from genq.quant.kernels.per_tensor import native_float_fake_quantize
from genq.quant.primitives import EPS, _group_view, fake_quantize, qparams_from_range, qrange


@dataclass(frozen=True)
class IntFormat:
    """``bits``-bit integers: signed [-2^(b-1), 2^(b-1)-1] when ``symmetric`` (zero point 0),
    else unsigned [0, 2^b-1] with an integer zero point."""

    bits: int
    symmetric: bool = True

    def __post_init__(self) -> None:
        qrange(self.bits, self.symmetric)          # raises for bits out of range

    @property
    def name(self) -> str:
        return f"int{self.bits}"

    @property
    def qmin(self) -> int:
        return qrange(self.bits, self.symmetric)[0]

    @property
    def qmax(self) -> int:
        return qrange(self.bits, self.symmetric)[1]

    @property
    def max_value(self) -> float:
        """Largest magnitude on the grid, in units of the scale."""
        return float(max(-self.qmin, self.qmax))

    @property
    def bits_per_element(self) -> float:
        return float(self.bits)

    @property
    def is_integer(self) -> bool:
        return True

    def qparams(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and zero point covering [lo, hi] (always including 0)."""
        return qparams_from_range(lo, hi, self.bits, self.symmetric)

    def fake_quantize(self, x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                      axis: int | None = None, group_size: int | None = None) -> torch.Tensor:
        return fake_quantize(x, scale, zero_point, self.qmin, self.qmax, axis, group_size)

    def describe(self, symmetric_word: bool = True) -> str:
        return f"int{self.bits} {'sym' if self.symmetric else 'asym'}" if symmetric_word else self.name


@dataclass(frozen=True)
class FloatFormat:
    """A minifloat with ``exp_bits`` exponent and ``man_bits`` mantissa bits and a sign bit.

    ``specials``: ``"ieee"`` reserves the top exponent for inf/NaN (E5M2); ``"fn"`` keeps
    only the all-ones pattern for NaN (E4M3FN, largest 448); ``"none"`` has no special
    values (the MX FP6/FP4 elements). Subnormals are kept. Values beyond the largest one
    saturate (as the OCP spec's conversions with saturation do)."""

    exp_bits: int
    man_bits: int
    specials: str = "none"
    label: str = ""

    def __post_init__(self) -> None:
        if not (1 <= self.exp_bits <= 8 and 0 <= self.man_bits <= 10):
            raise GenqError(f"float format e{self.exp_bits}m{self.man_bits} is out of range; "
                            "accepted: 1-8 exponent bits and 0-10 mantissa bits.")
        if self.specials not in ("ieee", "fn", "none"):
            raise GenqError(f"float format specials={self.specials!r}; accepted: ieee, fn, none.")

    @property
    def name(self) -> str:
        return self.label or f"fp{self.bits}_e{self.exp_bits}m{self.man_bits}"

    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exp_bits - 1) - 1

    @property
    def min_exponent(self) -> int:
        """Exponent of the smallest normal number (subnormals share its step)."""
        return 1 - self.bias

    @property
    def max_value(self) -> float:
        top = 2 ** self.exp_bits - 1 - self.bias          # exponent of the all-ones field
        if self.specials == "ieee":
            return 2.0 ** (top - 1) * (2 - 2.0 ** -self.man_bits)
        if self.specials == "fn":
            return 2.0 ** top * (2 - 2.0 ** (1 - self.man_bits))
        return 2.0 ** top * (2 - 2.0 ** -self.man_bits)

    @property
    def bits_per_element(self) -> float:
        return float(self.bits)

    @property
    def is_integer(self) -> bool:
        return False

    def qparams(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A symmetric scale mapping max(|lo|, |hi|) to the largest value; zero point 0."""
        amax = torch.maximum(lo.abs(), hi.abs()).float()
        scale = torch.clamp(amax / self.max_value, min=EPS)
        return scale, torch.zeros_like(scale)

    @property
    def top_half_step(self) -> float:
        """Half the grid step at the largest value: inputs up to ``max_value`` plus this round
        onto the grid; beyond it they saturate (the edge of the representable range)."""
        return 2.0 ** (math.floor(math.log2(self.max_value)) - self.man_bits - 1)

    def round(self, y: torch.Tensor) -> torch.Tensor:
        """``y`` (already divided by its scale) rounded to the nearest representable value,
        ties to even, saturating at the largest value; subnormals kept (below the smallest
        normal the step stays that of the smallest binade); no gradient bookkeeping.

        Float32 arithmetic that rounds exactly as torch's float8 casts and torchao's FP6/FP4
        casts do (tests/quant/test_format_parity.py), written here because torch has no FP6
        dtype and its eager float8 cast is ~4x slower on CPU than these passes."""
        return self.round_(y.float().clone() if y.dtype == torch.float32 else y.float())

    def round_(self, y: torch.Tensor) -> torch.Tensor:
        """:meth:`round` in place on a float32 ``y`` the caller owns (one tensor fewer)."""
        # 2^floor(log2|y|) read from the float32 exponent field (exact; 0 for 0), no lower than
        # the smallest normal binade (subnormals share its step)
        magic = (y.view(torch.int32) & 0x7F800000).view(torch.float32).clamp_(min=2.0 ** self.min_exponent)
        # adding then subtracting 1.5 * 2^23 * step rounds to a multiple of step, ties to even
        # (float32's own rounding; |y| < 2^22 * step always holds); rounding is monotone, so
        # saturating afterwards equals saturating first
        magic.mul_(1.5 * 2.0 ** (23 - self.man_bits))
        return y.add_(magic).sub_(magic).clamp_(-self.max_value, self.max_value)

    def inside(self, y: torch.Tensor) -> torch.Tensor:
        """Where ``y`` lies in the representable range (rounds onto the grid rather than
        saturating; a tie at the edge rounds to even): the straight-through gradient is 1
        there and 0 outside, as for integers."""
        edge = self.max_value + self.top_half_step
        top_is_even = (self.max_value / (2 * self.top_half_step)) % 2 == 0
        return y.abs() <= edge if top_is_even else y.abs() < edge

    def fake_quantize(self, x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | None = None,
                      axis: int | None = None, group_size: int | None = None) -> torch.Tensor:
        """Quantize-dequantize ``x`` at ``scale`` (broadcastable, or 1-D along ``axis``, or per
        group); the gradient passes straight through (to ``x``; the scale's gradient is the
        LSQ-style one of ``y * s``)."""
        if group_size is not None:
            ax = 1 if axis is None else axis
            grouped = _group_view(x, PerGroup(group_size, ax))
            out = self.fake_quantize(grouped, scale)
            return out.reshape(x.movedim(ax, -1).shape).movedim(-1, ax)
        if axis is not None and scale.dim() == 1:
            shape = [1] * x.dim()
            shape[axis] = -1
            scale = scale.view(shape)
        fused = native_float_fake_quantize(self, x, scale)        # bit-identical, 1 pass
        if fused is not None:
            return fused
        y = x / scale
        if not (torch.is_grad_enabled() and (x.requires_grad or scale.requires_grad)):
            return (self.round_(y) if y.dtype == torch.float32 else self.round(y).to(y.dtype)).mul_(scale)
        q = self.round(y.detach()).to(y.dtype)
        # straight through inside the range; outside, the saturated value (whose gradient
        # w.r.t. the scale is the LSQ one), as the integer path does
        q = torch.where(self.inside(y.detach()), y + (q - y).detach(), q)
        return q * scale

    def describe(self, symmetric_word: bool = True) -> str:
        return self.name


ScaleFormat = Union[FloatFormat, str]    # a FloatFormat, "e8m0" (powers of two) or "fp32"


@dataclass(frozen=True)
class BlockFormat:
    """Block-scaled elements: every ``block_size`` consecutive elements along the reduction
    axis share one scale stored in ``scale_format``; ``tensor_scale`` adds NVFP4's second,
    per-tensor FP32 scale so block scales fit their small format."""

    element: Union[IntFormat, FloatFormat]
    block_size: int = 32
    scale_format: ScaleFormat = "e8m0"
    tensor_scale: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        if self.block_size < 1:
            raise GenqError(f"block_size={self.block_size}; accepted: a positive integer.")
        if isinstance(self.scale_format, str) and self.scale_format not in ("e8m0", "fp32"):
            raise GenqError(f"scale_format={self.scale_format!r}; accepted: e8m0, fp32 or a "
                            "FloatFormat.")

    @property
    def name(self) -> str:
        return self.label or f"{self.element.name}_b{self.block_size}"

    @property
    def bits(self) -> int:
        return self.element.bits

    @property
    def scale_bits(self) -> int:
        if isinstance(self.scale_format, FloatFormat):
            return self.scale_format.bits
        return 8 if self.scale_format == "e8m0" else 32

    @property
    def max_value(self) -> float:
        return self.element.max_value

    @property
    def bits_per_element(self) -> float:
        """Element bits plus each block's shared scale spread over its elements (MXFP4:
        4 + 8/32 = 4.25; NVFP4: 4 + 8/16 = 4.5, ignoring the one per-tensor scale)."""
        return self.element.bits + self.scale_bits / self.block_size

    @property
    def is_integer(self) -> bool:
        return False

    @property
    def element_emax(self) -> int:
        """Exponent of the largest power of two the element holds (OCP MX v1.0's emax_elem:
        E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 6 counting in units of its LSB)."""
        top = self.element.qmax if isinstance(self.element, IntFormat) else self.element.max_value
        return math.floor(math.log2(top))

    def _e8m0_scales(self, amax: torch.Tensor) -> torch.Tensor:
        """OCP MX v1.0 section 6.3 (torchao's default ``ScaleCalculationMode.FLOOR``):
        X = 2^(floor(log2(amax)) - emax_elem), floor(log2) read from the float32 exponent
        field as torchao does (a subnormal amax counts as 2^-127), clamped to E8M0's
        [2^-127, 2^127]. The block maximum may then exceed the element's largest value and
        saturate, as the spec's FLOOR rounding does."""
        # built in the bit pattern: exponent field minus emax_elem; a field <= 0 becomes
        # 2^-127 (the subnormal pattern 0x00400000), finite amax never exceeds 2^127
        field = (amax.float().contiguous().view(torch.int32) & 0x7F800000) - (self.element_emax << 23)
        return field.clamp_(min=0x00400000).view(torch.float32)

    def _small_float_scales(self, ideal: torch.Tensor) -> torch.Tensor:
        """``ideal`` rounded into the scale format, clamped to [smallest normal, largest]
        first (NVFP4Tensor's ``clamp(min=E4M3_EPS, max=F8E4M3_MAX).to(float8_e4m3fn)``)."""
        fmt = self.scale_format
        return fmt.round(ideal.clamp(min=2.0 ** fmt.min_exponent, max=fmt.max_value))

    def scales_and_multipliers(self, x: torch.Tensor, axis: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
        """Per block of ``x`` along ``axis``: the dequantization scale and the multiplier
        that maps values onto the element grid, shaped like :meth:`blocked` with the block
        dimension reduced to 1.

        The multiplier is ``1 / scale`` except with a tensor scale, where it is NVFP4Tensor's
        ``(1 / tensor_scale) / block_scale`` (what torchao and its kernels multiply by), so the
        elements round exactly as torchao's do."""
        axis = axis % x.dim()
        # (abs then amax: on CPU ~10x faster than aminmax or an inf-norm over a middle dim)
        amax = self.blocked(x.detach(), axis).float().abs().amax(dim=axis + 1, keepdim=True)
        if self.scale_format == "e8m0":
            scale = self._e8m0_scales(amax)
            return scale, 1.0 / scale
        ideal = amax / self.element.max_value
        if self.scale_format == "fp32":
            scale = ideal.clamp(min=torch.finfo(torch.float32).tiny)
            return scale, 1.0 / scale
        if not self.tensor_scale:
            scale = self._small_float_scales(ideal)
            return scale, 1.0 / scale
        # NVFP4's two levels (torchao per_tensor_amax_to_scale and nvfp4_quantize): a float32
        # tensor scale amax / (scale max * element max), the block scales relative to it.
        # An all-zero tensor gets tensor scale 1 (torchao would divide by zero there).
        tensor_amax = amax.amax()
        tensor_scale = torch.where(tensor_amax > 0,
                                   tensor_amax / (self.scale_format.max_value * self.element.max_value),
                                   torch.ones_like(tensor_amax))
        block_scale = self._small_float_scales(ideal / tensor_scale)
        return tensor_scale * block_scale, (1.0 / tensor_scale) / block_scale

    def block_scales(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        """One dequantization scale per block of ``x`` along ``axis`` (shaped as
        :meth:`scales_and_multipliers` gives them)."""
        return self.scales_and_multipliers(x, axis)[0]

    def blocked(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        """``x`` with ``axis`` split into (n_blocks, block_size), a view: each block's elements
        run along ``axis + 1`` (no copy, whatever the axis: activations block along channels
        in place)."""
        axis = axis % x.dim()
        size = x.shape[axis]
        if size % self.block_size:
            raise GenqError(f"{self.name}: block_size={self.block_size} does not divide the {size} "
                            f"channels along axis {axis}; accepted: a divisor of {size}.")
        return x.reshape(*x.shape[:axis], size // self.block_size, self.block_size, *x.shape[axis + 1:])

    def _round_elements(self, y: torch.Tensor, with_inside: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``y`` on the element grid (saturating) and, when asked, where it was inside the range."""
        if isinstance(self.element, IntFormat):
            r = torch.round(y)
            inside = (r >= self.element.qmin) & (r <= self.element.qmax) if with_inside else None
            return r.clamp_(self.element.qmin, self.element.qmax), inside
        inside = self.element.inside(y) if with_inside else None
        return self.element.round_(y), inside        # y is the caller's own tensor

    def fake_quantize_blocks(self, x: torch.Tensor, axis: int = -1, scales: torch.Tensor | None = None,
                             multipliers: torch.Tensor | None = None) -> torch.Tensor:
        """Quantize-dequantize ``x`` block by block along ``axis`` (scales computed from the
        blocks unless given; multipliers default to ``1 / scales``). The gradient to ``x`` is
        1 where a value lies inside the element's range and 0 where it saturates."""
        axis = axis % x.dim()
        if scales is None:
            fused = native_block_fake_quantize(self, x, axis)     # bit-identical, 3 passes
            if fused is not None:
                return fused
            scales, multipliers = self.scales_and_multipliers(x, axis)
        elif multipliers is None:
            multipliers = 1.0 / scales
        blocks = self.blocked(x, axis)
        y = blocks.detach().float() * multipliers
        grad = torch.is_grad_enabled() and x.requires_grad
        q, inside = self._round_elements(y, grad)
        out = q.mul_(scales).to(x.dtype)
        if grad:
            out = torch.where(inside, blocks + (out - blocks).detach(), out)
        return out.reshape(x.shape)

    def describe(self, symmetric_word: bool = True) -> str:
        return self.name


Format = Union[IntFormat, FloatFormat, BlockFormat]


class NumberFormat(Protocol):
    """What genq asks of a format (the three classes above, or your own — see
    docs/extending.md): a name and bit widths, its largest value, qparams from an observed
    range, and quantize-dequantize at a scale."""

    name: str
    bits: int
    max_value: float
    bits_per_element: float
    is_integer: bool

    def qparams(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def fake_quantize(self, x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                      axis: int | None = None, group_size: int | None = None) -> torch.Tensor: ...

    def describe(self) -> str: ...

E4M3 = FloatFormat(4, 3, "fn", "fp8_e4m3")
E5M2 = FloatFormat(5, 2, "ieee", "fp8_e5m2")
E3M2 = FloatFormat(3, 2, "none", "fp6_e3m2")
E2M3 = FloatFormat(2, 3, "none", "fp6_e2m3")
E2M1 = FloatFormat(2, 1, "none", "fp4_e2m1")

NAMED_FORMATS: dict[str, Format] = {
    "fp8_e4m3": E4M3, "fp8_e5m2": E5M2, "fp6_e3m2": E3M2, "fp6_e2m3": E2M3, "fp4_e2m1": E2M1,
    # OCP Microscaling v1.0: 32 elements per E8M0 scale (mxfp8 = mxfp8_e4m3 and
    # mxfp6 = mxfp6_e3m2 under their earlier names, which recipes and labels keep)
    "mxfp8_e4m3": BlockFormat(E4M3, 32, "e8m0", label="mxfp8_e4m3"),
    "mxfp8_e5m2": BlockFormat(E5M2, 32, "e8m0", label="mxfp8_e5m2"),
    "mxfp6_e3m2": BlockFormat(E3M2, 32, "e8m0", label="mxfp6_e3m2"),
    "mxfp6_e2m3": BlockFormat(E2M3, 32, "e8m0", label="mxfp6_e2m3"),
    "mxfp8": BlockFormat(E4M3, 32, "e8m0", label="mxfp8"),
    "mxfp6": BlockFormat(E3M2, 32, "e8m0", label="mxfp6"),
    "mxfp4": BlockFormat(E2M1, 32, "e8m0", label="mxfp4"),
    "mxint8": BlockFormat(IntFormat(8, True), 32, "e8m0", label="mxint8"),
    # NVIDIA NVFP4: 16 E2M1 elements per E4M3 scale, under a per-tensor FP32 scale
    "nvfp4": BlockFormat(E2M1, 16, E4M3, tensor_scale=True, label="nvfp4"),
}


def parse_format(spec: "str | int | Format", symmetric: bool = True) -> Format:
    """A format from its name: ``int4``/``uint8`` (or a bare bit width), a named float or
    block format (``fp8_e4m3``, ``mxfp4``, ``nvfp4``, …), or ``fp<N>_e<E>m<M>``."""
    if not isinstance(spec, (int, str)):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return IntFormat(spec, symmetric)
    text = str(spec).strip().lower()
    if text in NAMED_FORMATS:
        return NAMED_FORMATS[text]
    m = re.fullmatch(r"(u?)int(\d+)", text)
    if m:
        return IntFormat(int(m.group(2)), symmetric and not m.group(1))
    m = re.fullmatch(r"fp(\d+)_e(\d+)m(\d+)", text)
    if m and int(m.group(1)) == 1 + int(m.group(2)) + int(m.group(3)):
        return FloatFormat(int(m.group(2)), int(m.group(3)), "none", text)
    raise GenqError(f"format {spec!r} is not known; accepted: int2..int16, uint2..uint16, "
                    f"{', '.join(NAMED_FORMATS)}, or fp<N>_e<E>m<M> with N = 1 + E + M.")


def as_format(fmt: "Format | int", symmetric: bool | None = None) -> Format:
    """``fmt`` itself, or the integer format of ``fmt`` bits (the signature observers and
    quantizers kept from before formats: ``(bits, symmetric)``)."""
    if isinstance(fmt, (int, str)) and not isinstance(fmt, bool):
        return IntFormat(int(fmt), True if symmetric is None else bool(symmetric)) \
            if isinstance(fmt, int) else parse_format(fmt, True if symmetric is None else symmetric)
    if not (hasattr(fmt, "fake_quantize") and hasattr(fmt, "qparams") or hasattr(fmt, "fake_quantize_blocks")):
        raise GenqError(f"{fmt!r} is not a number format; accepted: a bit width, a format name or an "
                        "object with qparams/fake_quantize (genq.quant.formats.NumberFormat).")
    return fmt


def register_format(name: str, fmt: "NumberFormat") -> None:
    """Make ``fmt`` available by ``name`` (``quant.w_format=<name>``, plan files)."""
    as_format(fmt)
    NAMED_FORMATS[name.lower()] = fmt


def fake_quantize_format(x: torch.Tensor, fmt: "str | Format", block_size: int | None = None) -> torch.Tensor:
    """The quantize-dequantize of ``x`` in format ``fmt`` (a name or a format object), with a
    straight-through gradient (1 where a value lies inside the representable range, 0 where
    it saturates), so QAT works on every format.

    - integers: one symmetric (or, for ``uint*``, asymmetric) min-max scale for the tensor;
    - minifloats: one scale for the tensor mapping its amax to the largest normal value;
    - block formats: blocks of ``block_size`` (None: the format's own, 32 for MX, 16 for
      NVFP4) along the last dimension, rounded as torchao's ``MXTensor.to_mx`` (default FLOOR
      scales) and ``NVFP4Tensor.to_nvfp4`` (with its per-tensor scale where the format has
      one) do; tests/quant/test_format_parity.py checks the equality.

    Infinities and NaN are refused (no finite scale covers them). Computed in float32 and
    returned in ``x``'s dtype."""
    fmt = parse_format(fmt) if isinstance(fmt, str) else as_format(fmt)
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise GenqError(f"fake_quantize_format: x holds {bad} infinite or NaN value(s); accepted: "
                        f"finite values (no scale of {fmt.name} can represent them).")
    if isinstance(fmt, BlockFormat):
        if block_size is not None and block_size != fmt.block_size:
            if block_size < 1:
                raise GenqError(f"block_size={block_size}; accepted: a positive integer or None.")
            fmt = dataclasses.replace(fmt, block_size=block_size, label=f"{fmt.name}_b{block_size}")
        if x.dim() == 0:
            raise GenqError(f"fake_quantize_format: {fmt.name} needs a tensor with a last dimension "
                            "to block; got a 0-d tensor.")
        return fmt.fake_quantize_blocks(x, -1)
    if block_size is not None:
        raise GenqError(f"block_size={block_size} given for {fmt.name}, which has no blocks; accepted: "
                        "None, or a block format (mxfp4, nvfp4, ...).")
    xf = x.float()
    scale, zero_point = fmt.qparams(xf.detach().min(), xf.detach().max())
    return fmt.fake_quantize(xf, scale, zero_point).to(x.dtype)


def format_bits(fmt: Format) -> float:
    """Bits one element costs, shared scales included (size accounting)."""
    return fmt.bits_per_element


def is_block(fmt: Format) -> bool:
    return isinstance(fmt, BlockFormat)


__all__ = ["IntFormat", "FloatFormat", "BlockFormat", "Format", "NAMED_FORMATS", "parse_format",
           "fake_quantize_format",
           "as_format", "register_format", "NumberFormat",
           "format_bits", "is_block", "E4M3", "E5M2", "E3M2", "E2M3", "E2M1"]

