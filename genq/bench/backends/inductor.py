"""Inductor settings scoped to the backend that needs them, never left set for the process.

Hydra's basic launcher runs the jobs of a sweep in one process, so a setting written to
``torch._inductor.config`` by one job's benchmark would change every later compile (another
job's backend, a user's own ``torch.compile``). Each backend names its settings here; they
are applied with ``torch._inductor.config.patch`` around the calls that may compile —
``torch.compile`` compiles lazily, on the first call and again on a recompile — and
restored when the call returns.

- CPU int8 (PT2E + oneDNN): ``freezing`` makes the weights constants, so Inductor prepacks the
  int8 oneDNN kernels; ``cpp.enable_kernel_profile`` names the fused kernels in
  ``torch.profiler`` (the record's kernel counts). Passing them as
  ``torch.compile(options=...)`` breaks the int8 weight prepacking (qconv_prepack on fake
  tensors) in torch 2.14; a config patch at compile time does not.
  Importing torchao's ``X86InductorQuantizer`` sets ``pre_grad_custom_pass`` to its
  ``quant_lift_up`` pass process-wide (torchao 0.18, at import):
  :func:`import_x86_quantizer` puts the previous value back and the int8 settings carry
  the pass instead.
- CPU float baselines (compiled FP32 / bf16 / fp16): ``freezing``.
- CUDA int8/fp8 through torchao: torchao's recommended settings for quantized models
  (``torchao.quantization.utils.recommended_inductor_config_setter``), which ``quantize_``
  would otherwise write process-wide (``set_inductor_config=True``, its default).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

CPU_INT8: dict[str, Any] = {"freezing": True, "cpp.enable_kernel_profile": True}
CPU_FLOAT: dict[str, Any] = {"freezing": True}
TORCHAO_CUDA: dict[str, Any] = {"coordinate_descent_tuning": True,
                                "coordinate_descent_check_all_directions": True,
                                "force_fuse_int_mm_with_mul": True, "fx_graph_cache": True,
                                "triton.unique_kernel_names": True}

# The settings a measurement runs under, by ``bench.backend`` (cpu_int8: cpu_int8_settings()):
# every variant timed in one measurement (the backend and its baselines) compiles under the same ones.
BY_BACKEND: dict[str, dict[str, Any]] = {"cpu_bf16": CPU_FLOAT, "cpu_fp16": CPU_FLOAT,
                                         "cuda_int8": TORCHAO_CUDA, "cuda_fp8": TORCHAO_CUDA}


def _config():
    import torch._inductor.config as inductor_config

    return inductor_config


def current(key: str) -> Any:
    """The value of Inductor setting ``key`` (dotted for a sub-config: ``cpp.enable_kernel_profile``)."""
    return functools.reduce(getattr, key.split("."), _config())


def snapshot(keys: Any = None) -> dict[str, Any]:
    """The values of ``keys`` (default: every setting any backend here changes)."""
    keys = keys or {k for s in (CPU_INT8, CPU_FLOAT, TORCHAO_CUDA) for k in s}
    return {k: current(k) for k in sorted(keys)}


_applied: dict[str, Any] = {}      # what the open inductor_settings blocks have set


@contextlib.contextmanager
def inductor_settings(settings: dict[str, Any]) -> Iterator[None]:
    """``settings`` in force inside the block; the previous values afterwards."""
    global _applied
    if _in_force(settings):
        yield
        return
    before = _applied
    with _config().patch(settings):
        _applied = {**before, **settings}
        try:
            yield
        finally:
            _applied = before


def _in_force(settings: dict[str, Any]) -> bool:
    # a dict lookup per key (reading torch._inductor.config costs microseconds per key)
    return all(k in _applied and _applied[k] == v for k, v in settings.items())


def scoped(fn: Callable[..., Any], settings: dict[str, Any]) -> Callable[..., Any]:
    """``fn`` called under ``settings`` (a compiled function compiles, or recompiles, inside
    its calls). Already in force (a measurement scopes them around all its variants): a dict
    lookup per setting and call, no patch."""
    if not settings:
        return fn

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _in_force(settings):
            return fn(*args, **kwargs)
        with inductor_settings(settings):
            return fn(*args, **kwargs)
    return call


def import_x86_quantizer() -> Any:
    """torchao's ``X86InductorQuantizer`` class, imported without its module's process-wide
    ``pre_grad_custom_pass`` (the previous value stays; :func:`cpu_int8_settings` has the pass)."""
    config = _config()
    with config.patch(pre_grad_custom_pass=config.pre_grad_custom_pass):
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import X86InductorQuantizer
    return X86InductorQuantizer


def cpu_int8_settings() -> dict[str, Any]:
    """:data:`CPU_INT8` plus torchao's int8 pre-grad pass (``quant_lift_up``, which the
    import of its X86 quantizer would otherwise install for the whole process)."""
    from torchao.quantization.pt2e.inductor_passes.x86 import quant_lift_up

    return {**CPU_INT8, "pre_grad_custom_pass": quant_lift_up}


def for_backend(backend: str) -> dict[str, Any]:
    """The settings a ``bench.backend`` measurement runs under (none for eager/autocast CUDA)."""
    if backend == "cpu_int8":
        return cpu_int8_settings()
    return BY_BACKEND.get(backend, {})
