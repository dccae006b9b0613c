"""The fused C kernels (genq/quant/kernels) return exactly what the PyTorch formats code
returns, on every block, minifloat and integer format, layout and edge value, and step
aside where they do not apply (gradients, non-finite values, per-channel scales, no
compiler)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

from genq.quant import kernels
from genq.quant.formats import E2M1, E4M3, NAMED_FORMATS, BlockFormat, FloatFormat, IntFormat
from genq.quant.kernels import block_fake_quant as bfq
from genq.quant.kernels import build
from genq.quant.kernels import per_tensor as ffq

pytestmark = pytest.mark.skipif(build.load_library("fake_quant") is None,
                                reason="no C compiler builds the native kernels here")

BLOCK_FORMATS = {name: f for name, f in NAMED_FORMATS.items() if isinstance(f, BlockFormat)}
# scale modes the named formats do not cover: FP32 block scales, E4M3 scales without a tensor scale
BLOCK_FORMATS["fp4_fp32scale_b16"] = BlockFormat(E2M1, 16, "fp32", label="fp4_fp32scale_b16")
BLOCK_FORMATS["fp4_e4m3scale_b16"] = BlockFormat(E2M1, 16, E4M3, label="fp4_e4m3scale_b16")
BLOCK_FORMATS["int4_e8m0_b32"] = BlockFormat(IntFormat(4, True), 32, "e8m0", label="int4_e8m0_b32")
BLOCK_FORMATS["int8_fp32scale_b16"] = BlockFormat(IntFormat(8, True), 16, "fp32", label="int8_fp32scale_b16")
BLOCK_FORMATS["int4_e4m3scale_b16"] = BlockFormat(IntFormat(4, True), 16, E4M3, tensor_scale=True,
                                                  label="int4_e4m3scale_b16")
FLOAT_FORMATS = {name: f for name, f in NAMED_FORMATS.items() if isinstance(f, FloatFormat)}


def _layouts(n_channels: int) -> list[tuple[str, torch.Tensor, int]]:
    """Tensors blocked along ``n_channels`` channels, in every memory layout the models give."""
    g = torch.Generator().manual_seed(n_channels)
    c = n_channels
    return [
        ("nchw", torch.randn(3, c, 5, 4, generator=g), 1),
        ("nhwc", torch.randn(3, c, 5, 4, generator=g).contiguous(memory_format=torch.channels_last), 1),
        ("tokens last", torch.randn(2, 7, c, generator=g), 2),
        ("tokens contiguous, channels last in shape", torch.randn(2, c, 9, generator=g).transpose(1, 2), 2),
        ("blocks along a unit-stride middle dim", torch.randn(2, 9, c, generator=g).transpose(1, 2), -2),
        ("2-d", torch.randn(6, c, generator=g), 1),
        ("1-d", torch.randn(c, generator=g), 0),
        ("small inner", torch.randn(2, c, 2, 2, generator=g), 1),
        ("sliced (not dense)", torch.randn(3, c, 6, generator=g)[:, :, ::2], 1),
        ("blocks along dim 0", torch.randn(c, 3, 5, generator=g), 0),
    ]


def _reference(fmt: BlockFormat, x: torch.Tensor, axis: int) -> torch.Tensor:
    """The PyTorch path: scales computed first, then given (which never takes the kernel)."""
    scales, multipliers = fmt.scales_and_multipliers(x, axis)
    return fmt.fake_quantize_blocks(x, axis, scales, multipliers)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal float32 bit patterns (so -0.0 differs from 0.0), NaN where NaN."""
    if a.shape != b.shape or not torch.equal(a.isnan(), b.isnan()):
        return False
    a, b = a.nan_to_num().contiguous(), b.nan_to_num().contiguous()
    return torch.equal(a.view(torch.int32), b.view(torch.int32))


@pytest.mark.parametrize("name", sorted(BLOCK_FORMATS))
@pytest.mark.parametrize("magnitude", [1.0, 3.7e-3, 1e-30, 1e20])
def test_block_kernel_equals_pytorch_on_every_layout(name: str, magnitude: float) -> None:
    fmt = BLOCK_FORMATS[name]
    for label, x, axis in _layouts(2 * max(fmt.block_size, 32)):
        x = x * magnitude
        x[x.abs() < 0.05 * magnitude] = 0.0               # zeros, and some all-zero corners
        fused = bfq.native_block_fake_quantize(fmt, x, axis)
        assert fused is not None, label
        assert _same_bits(fused, _reference(fmt, x, axis)), f"{name} {label} x{magnitude}"


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp4", "nvfp4", "mxint8"])
def test_block_kernel_on_edge_values(name: str) -> None:
    """All-zero blocks, block maxima at powers of two (where FLOOR scales saturate), ties
    half-way between grid points after scaling, subnormals of float32 and of the elements."""
    fmt = BLOCK_FORMATS[name]
    b = fmt.block_size
    rows = [
        torch.zeros(b),
        torch.full((b,), 2.0 ** 5) * torch.tensor([(-1) ** i for i in range(b)]),
        torch.linspace(-8.0, 8.0, b),                      # block max at a power of two
        torch.arange(b, dtype=torch.float32) * 0.25 - 2.0,  # many ties on fine grids
        torch.full((b,), 1e-40),                           # float32 subnormals
        torch.cat([torch.tensor([6.0]), torch.full((b - 1,), 0.25)]),   # E2M1 ties at 0.25
        torch.cat([torch.tensor([448.0]), torch.linspace(-1e-3, 1e-3, b - 1)]),
        torch.cat([torch.tensor([7.5]), torch.full((b - 1,), 5.0)]),    # 5 is an E2M1 tie
    ]
    x = torch.stack(rows)
    for t, axis in [(x, 1), (x.t().contiguous(), 0), (x.t(), 0)]:
        fused = bfq.native_block_fake_quantize(fmt, t, axis)
        assert fused is not None
        assert _same_bits(fused, _reference(fmt, t, axis)), name


def test_block_kernel_matches_the_torchao_reference_through_fake_quantize_format() -> None:
    """fake_quantize_format (now through the kernel) still equals the stored reference
    behaviour: the kernel sits below the public API without changing a bit."""
    from genq.quant.formats import fake_quantize_format
    x = torch.randn(4, 8, 64)
    for name in ("mxfp4", "nvfp4", "mxfp8_e4m3"):
        fmt = NAMED_FORMATS[name]
        assert _same_bits(fake_quantize_format(x, name), _reference(fmt, x, -1))


def test_block_kernel_steps_aside_for_gradients_and_non_finite_values() -> None:
    fmt = NAMED_FORMATS["nvfp4"]
    x = torch.randn(2, 32, 3, requires_grad=True)
    assert bfq.native_block_fake_quantize(fmt, x, 1) is None
    out = fmt.fake_quantize_blocks(x, 1)              # the PyTorch path, straight-through
    out.sum().backward()
    assert x.grad is not None and bool((x.grad == 1).any())
    with torch.no_grad():
        assert bfq.native_block_fake_quantize(fmt, x, 1) is not None
    for bad in (float("nan"), float("inf")):
        y = torch.randn(2, 32, 3)
        y[1, 5, 2] = bad
        assert bfq.native_block_fake_quantize(fmt, y, 1) is None
        got, want = fmt.fake_quantize_blocks(y, 1), _reference(fmt, y, 1)
        assert torch.equal(got.isnan(), want.isnan())
        assert torch.equal(got.nan_to_num(), want.nan_to_num())
    assert bfq.native_block_fake_quantize(fmt, torch.randn(2, 24), 1) is None      # 16 does not divide 24
    assert bfq.native_block_fake_quantize(fmt, torch.randn(2, 32).double(), 1) is None


@pytest.mark.parametrize("name", sorted(FLOAT_FORMATS))
def test_float_kernel_equals_pytorch(name: str) -> None:
    fmt = FLOAT_FORMATS[name]
    g = torch.Generator().manual_seed(1)
    tensors = [torch.randn(3, 16, 5, 4, generator=g) * 40,
               torch.randn(3, 16, 5, 4, generator=g).contiguous(memory_format=torch.channels_last),
               torch.randn(4, 6, 8, generator=g).transpose(0, 2),
               torch.randn(40, generator=g)[::3],
               torch.tensor([0.0, -0.0, 1e-40, -1e-40, 1e30, -1e30, 0.5, 1.5, 2.5, 3.5])]
    for scale in (1.0, 0.0123, 3e-5, 7.0, 2.0 ** -20):
        s = torch.tensor(scale)
        for x in tensors:
            fused = ffq.native_float_fake_quantize(fmt, x, s)
            assert fused is not None
            reference = fmt.round_(x / s).mul_(s)       # FloatFormat.fake_quantize's own passes
            assert _same_bits(fused, reference), f"{name} scale {scale} {tuple(x.shape)}"


@pytest.mark.parametrize("bits,symmetric", [(8, True), (4, True), (8, False), (2, False)])
def test_int_kernel_equals_pytorch(bits: int, symmetric: bool) -> None:
    """Against the PyTorch inference path it replaces (four passes, zero point folded into
    the clamp bounds), ties at .5 included."""
    from genq.quant import primitives
    fmt = IntFormat(bits, symmetric)
    g = torch.Generator().manual_seed(bits)
    tensors = [torch.randn(3, 16, 5, 4, generator=g) * 3,
               torch.randn(3, 16, 5, 4, generator=g).contiguous(memory_format=torch.channels_last),
               torch.randn(4, 6, 8, generator=g).transpose(0, 2),
               torch.arange(-40, 40, dtype=torch.float32) * 0.25]          # ties
    for scale, zp in ((0.05, 0.0), (0.5, 3.0), (1.0 / 3.0, float(fmt.qmin)), (2.0 ** -12, 1.0)):
        s, z = torch.tensor(scale), torch.tensor(zp)
        for x in tensors:
            fused = ffq.native_int_fake_quantize(x, s, z, fmt.qmin, fmt.qmax)
            assert fused is not None
            y = x * (1.0 / s)
            reference = torch.clamp(y.round_(), fmt.qmin - z, fmt.qmax - z).mul_(s)
            assert _same_bits(fused, reference), f"int{bits} scale {scale} zp {zp}"
            assert _same_bits(primitives.fake_quantize(x, s, z, fmt.qmin, fmt.qmax), reference)


def test_float_kernel_steps_aside() -> None:
    fmt = FLOAT_FORMATS["fp8_e4m3"]
    x = torch.randn(4, 8)
    assert ffq.native_float_fake_quantize(fmt, x, torch.rand(4, 1) + 0.1) is None    # per channel
    assert ffq.native_float_fake_quantize(fmt, x.requires_grad_(), torch.tensor(0.1)) is None
    assert ffq.native_float_fake_quantize(fmt, torch.randn(3), torch.ones(1, 1)) is None  # would broadcast up
    assert ffq.native_int_fake_quantize(torch.randn(4, 8), torch.rand(4, 1), torch.zeros(4, 1), -8, 7) is None
    assert ffq.native_int_fake_quantize(torch.randn(4, 8).double(), torch.tensor(0.1), torch.tensor(0.0),
                                        -8, 7) is None


def _cpu_has(flag: str) -> bool:
    try:
        return flag in open("/proc/cpuinfo").read().split()
    except OSError:
        return False


@pytest.mark.parametrize("isa", ["portable", "avx2"])
def test_other_builds_equal_pytorch(isa: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library built without -march=native (scalar loops) and for AVX2 only (the
    intrinsics an AVX-512 machine's native build skips) is exact too."""
    if isa == "avx2" and not _cpu_has("avx2"):
        pytest.skip("this CPU has no AVX2")
    flags = tuple(build.FLAGS) + (("-mavx2",) if isa == "avx2" else ())
    lib, error = build.build_library("fake_quant", flags)
    assert lib is not None, error
    monkeypatch.setattr(bfq, "_kernel", lambda: bfq.bind(lib))
    monkeypatch.setattr(ffq, "_kernel", lambda: ffq.bind(lib))
    for name in ("mxfp4", "nvfp4", "mxint8", "mxfp6_e3m2"):
        fmt = BLOCK_FORMATS[name]
        for label, x, axis in _layouts(64):
            fused = bfq.native_block_fake_quantize(fmt, x, axis)
            assert fused is not None and _same_bits(fused, _reference(fmt, x, axis)), f"{name} {label}"
    x, s = torch.randn(3, 16, 5, 4) * 9, torch.tensor(0.07)
    for fmt in FLOAT_FORMATS.values():
        assert _same_bits(ffq.native_float_fake_quantize(fmt, x, s), fmt.round_(x / s).mul_(s))
    y = x * (1.0 / s)
    assert _same_bits(ffq.native_int_fake_quantize(x, s, torch.tensor(2.0), -8, 7),
                      torch.clamp(y.round_(), -8 - 2.0, 7 - 2.0).mul_(s))


def test_native_off_and_missing_compiler_fall_back(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    fmt = NAMED_FORMATS["mxfp4"]
    x = torch.randn(2, 64, 3)
    want = _reference(fmt, x, 1)
    monkeypatch.setattr(build, "load_library", build.load_library.__wrapped__)
    for module in (bfq, ffq):
        monkeypatch.setattr(module, "load_library", build.load_library)
        monkeypatch.setattr(module, "_kernel", module._kernel.__wrapped__)
    monkeypatch.setenv("GENQ_NATIVE", "0")
    assert bfq.native_block_fake_quantize(fmt, x, 1) is None
    assert _same_bits(fmt.fake_quantize_blocks(x, 1), want)
    monkeypatch.setenv("GENQ_NATIVE", "1")
    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with caplog.at_level(logging.WARNING, logger=build.__name__):
        assert bfq.native_block_fake_quantize(fmt, x, 1) is None
    assert "eager PyTorch" in caplog.text
    assert _same_bits(fmt.fake_quantize_blocks(x, 1), want)


def test_library_is_cached_per_source_and_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    lib, error = build.build_library("fake_quant", tuple(build.FLAGS))
    assert lib is not None, error
    built = list((tmp_path / "kernels").glob("fake_quant-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    build.build_library("fake_quant", tuple(build.FLAGS))          # found, not rebuilt
    assert built[0].stat().st_mtime_ns == stamp
    assert kernels.native_status() in ("native C kernel", "eager PyTorch")


def test_block_format_variants_stay_exact_with_other_block_sizes() -> None:
    fmt = dataclasses.replace(NAMED_FORMATS["nvfp4"], block_size=8, label="nvfp4_b8")
    x = torch.randn(3, 40, 5)
    fused = bfq.native_block_fake_quantize(fmt, x, 1)
    assert fused is not None and _same_bits(fused, _reference(fmt, x, 1))


def test_unwritable_cache_falls_back_without_raising(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENQ_CACHE", str(blocker))          # $GENQ_CACHE/kernels cannot be made
    lib, error = build.build_library("fake_quant", tuple(build.FLAGS))
    assert lib is None and "cannot write" in error


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4", "mxint8"])
def test_threads_do_not_change_a_bit(name: str) -> None:
    """Past PARALLEL_MIN elements the work splits over torch's thread count (OpenMP builds);
    every layout gives the PyTorch path's bits whatever the count."""
    fmt = BLOCK_FORMATS[name]
    g = torch.Generator().manual_seed(3)
    tensors = [(torch.randn(8, 64, 16, 16, generator=g), 1),
               (torch.randn(8, 64, 16, 16, generator=g).contiguous(memory_format=torch.channels_last), 1),
               (torch.randn(16, 96, 64, generator=g), 2),
               (torch.randn(16, 64, 96, generator=g).transpose(1, 2), 2)]
    s = torch.tensor(0.02)
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            for x, axis in tensors:
                fused = bfq.native_block_fake_quantize(fmt, x, axis)
                assert fused is not None and _same_bits(fused, _reference(fmt, x, axis)), (threads, x.shape)
                y = x * (1.0 / s)
                assert _same_bits(ffq.native_int_fake_quantize(x, s, torch.tensor(0.0), -128, 127),
                                  torch.clamp(y.round_(), -128.0, 127.0).mul_(s))
                e4m3 = FLOAT_FORMATS["fp8_e4m3"]
                assert _same_bits(ffq.native_float_fake_quantize(e4m3, x, s), e4m3.round_(x / s).mul_(s))
    finally:
        torch.set_num_threads(before)
