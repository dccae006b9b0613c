"""Schema of the speed measurement (``bench=...``): which backend runs the timed model.

Kept apart from :mod:`genq.config` so the kernel backends own their settings in one file.
``bench=simulated`` times the fake-quant model (an overhead, labelled as such);
``bench=cpu_int8 | cpu_bf16 | cpu_w4a16 | cpu_w4a8 | cuda_fp16 | cuda_bf16 | cuda_int8 | cuda_fp8`` time real
low-precision kernels (genq.bench.backends) against FP baselines in the same process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from genq.errors import GenqError, check_choice

CUDA_BACKENDS = ("cuda_fp16", "cuda_bf16", "cuda_int8", "cuda_fp8")
CPU_BACKENDS = ("cpu_int8", "cpu_bf16", "cpu_fp16", "cpu_w4a16", "cpu_w4a8")
BACKENDS = ("fake-quant",) + CPU_BACKENDS + CUDA_BACKENDS
BASELINES = ("fp32_eager", "fp32_compiled", "bf16", "bf16_compiled", "fp16")
# With bench=cpu_int8 the other int8 variant of the same simulated model can be timed alongside.
INT8_VARIANTS = ("int8", "int8_bf16")
# Any CPU backend can time the W4 Linear variants alongside (genq.bench.backends.cpu_w4).
W4_VARIANTS = ("w4a16", "w4a8")
# cpu_int8: how a Conv2d meets its input's zero point (genq.bench.backends.conv_zero_point)
CONV_ZERO_POINT_MODES = ("implicit", "pad", "fold")
# On a GPU the other CUDA backends can be timed round-robin with the one asked for.
CUDA_BASELINES = ("fp32_eager", "cuda_fp16", "cuda_bf16", "cuda_int8", "cuda_fp8")


@dataclass
class BenchConfig:
    name: str = "simulated"
    backend: str = "fake-quant"                 # fake-quant | cpu_int8 | cpu_bf16 | cpu_fp16 | cuda_*
    batch_size: int = 32
    warmup: int = 1
    repeats: int = 5
    compile: bool = True                        # real backends: torch.compile (Inductor, frozen weights)
    compile_mode: Optional[str] = None          # null (Inductor default) | max-autotune | reduce-overhead (CUDA graphs)
    mixed_bf16: bool = False                    # cpu_int8: ops without int8 kernels in bf16 autocast
    conv_zero_point: str = "fold"               # cpu_int8: fold | pad | implicit (genq.bench.backends.conv_zero_point)
    allow_int8_saturation: bool = False         # cpu_int8 on a CPU without VNNI/AMX: time 8-bit activations anyway
    w4_group_size: int = 128                    # cpu_w4a16 / cpu_w4a8 (and w4 baselines): int4 group along the input
    threads: Optional[int] = None               # torch.set_num_threads while timing; null: torch's default
    # FP baselines timed round-robin with the backend (fp32_eager is always timed: the reference);
    # with cpu_int8 also the other int8 variant (int8 / int8_bf16)
    baselines: list[str] = field(default_factory=lambda: ["fp32_eager"])
    agreement: bool = True                      # real vs simulated vs FP samples: LPIPS, max |diff|
    kernel_profile: bool = True                 # count int8/float kernel calls of one forward
    pin_allocator: bool = True                  # glibc keeps freed memory while a real backend times (genq.bench.allocator)


def check_bench(b: "BenchConfig") -> None:
    """Range checks, and a CUDA backend refused on a machine without an NVIDIA driver, before
    torch or any model loads (``genq.bench.backends.cuda.check_cuda`` asks torch later, in
    ``genq.run`` and when a CUDA backend is built; the config layer imports no backend)."""
    check_choice("bench.backend", b.backend, BACKENDS)
    check_choice("bench.conv_zero_point", b.conv_zero_point, CONV_ZERO_POINT_MODES)
    on_cuda = b.backend in CUDA_BACKENDS
    check_choice("bench.compile_mode", b.compile_mode,
                 (None, "max-autotune", "reduce-overhead") if on_cuda else (None, "max-autotune"))
    accepted = CUDA_BASELINES if on_cuda else \
        BASELINES + W4_VARIANTS + (INT8_VARIANTS if b.backend == "cpu_int8" else ())
    for name in b.baselines:
        check_choice("bench.baselines entry" + (f" (with bench.backend={b.backend!r})" if on_cuda else ""),
                     name, accepted)
    if b.batch_size < 1 or b.repeats < 1 or b.warmup < 0:
        raise GenqError(f"bench.batch_size={b.batch_size}, bench.repeats={b.repeats}, bench.warmup="
                        f"{b.warmup}: batch_size and repeats must be >= 1, warmup >= 0.")
    if b.threads is not None and b.threads < 1:
        raise GenqError(f"bench.threads={b.threads} is not supported; accepted: null or >= 1.")
    if b.backend in CUDA_BACKENDS and not nvidia_driver_present():
        raise GenqError(f"bench.backend={b.backend!r} needs a CUDA GPU, but this machine has no NVIDIA "
                        "driver (no /proc/driver/nvidia, no libcuda); use bench=cpu_int8 or bench=cpu_bf16 "
                        "here.")


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA driver is installed (cheap: no torch, no CUDA initialisation)."""
    import ctypes.util
    import os

    return (os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")
            or ctypes.util.find_library("cuda") is not None)
