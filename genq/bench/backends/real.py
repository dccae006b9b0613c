"""Build the variants one real-backend measurement times: the FP32 eager reference, the
configured FP baselines, and the backend itself (int8 from the simulated model, or an
autocast/torchao model from the FP one), each as an adapter that samples like the FP one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from genq.bench.backends.coverage import CoverageRow
from genq.bench.backends.runner import forward_fn, with_backend
from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.progress import stage

DETAIL = {
    "cpu_int8": "PT2E (torchao X86InductorQuantizer) with the simulated model's scales, oneDNN int8 kernels",
    "cpu_bf16": "torch.autocast(cpu, bfloat16) of the FP model (oneDNN bf16)",
    "cpu_fp16": "torch.autocast(cpu, float16) of the FP model",
    "cpu_w4a16": "int4 per-group weights, bf16 activations on Linear layers: aten._weight_int4pack_mm_for_cpu",
    "cpu_w4a8": "int4 per-group weights, dynamic int8 activations on Linear layers: aten._dyn_quant_matmul_4bit",
    "cuda_fp16": "torch.autocast(cuda, float16) of the FP model",
    "cuda_bf16": "torch.autocast(cuda, bfloat16) of the FP model",
    "cuda_int8": "torchao Int8DynamicActivationInt8WeightConfig on Linear layers, bf16 elsewhere",
    "cuda_fp8": "torchao Float8DynamicActivationFloat8WeightConfig(PerRow) on Linear layers, bf16 elsewhere",
}


# Every first call (which compiles a compiled variant) runs under torch.inference_mode, as the
# sampling and timing calls do: Dynamo guards on the grad mode, so a first call under no_grad
# made the first sampling call recompile (2 minutes per variant on a full-size model).


@dataclass
class Variant:
    adapter: GeneratorAdapter
    fn: Any                                  # network args -> tensor
    model_bytes: int | None = None
    coverage: list[CoverageRow] = field(default_factory=list)
    build_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def graph_bytes(gm: torch.nn.Module) -> int:
    """Bytes of the tensors a converted graph reads (``get_attr``): int8 weights, their
    scales, the FP parameters of unquantized ops. Leftover unused attributes do not count."""
    seen: dict[int, torch.Tensor] = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            obj = gm
            for part in node.target.split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.Tensor):
                seen[id(obj)] = obj
    return sum(t.numel() * t.element_size() for t in seen.values())


def variant_name(backend: str, b: Any) -> str:
    if backend == "cpu_int8":
        return "int8_bf16" if b.mixed_bf16 else "int8"
    if backend in ("cpu_bf16", "cpu_fp16"):
        return backend[4:] + ("_compiled" if b.compile else "")
    if backend in ("cpu_w4a16", "cpu_w4a8"):
        return backend[4:]
    return backend


def build_backend(backend: str, fp: GeneratorAdapter, qmodel: GeneratorAdapter | None, b: Any,
                  example_args: tuple, wrap: bool) -> Variant:
    from genq.bench.backends.coverage import float_rows, rows_from_plans
    from genq.bench.backends.float_baselines import autocast_fn, cast_fn
    from genq.bench.size import model_bytes

    start = time.perf_counter()
    if backend == "cpu_int8":
        from genq.bench.backends.cpu_int8 import build_cpu_int8

        if qmodel is None:
            raise GenqError("bench=cpu_int8 runs a quantized model, but quant=fp32 gives none; pick a "
                            "static int8 recipe, e.g. quant=w8a8 or quant=w4a8.")
        built = build_cpu_int8(qmodel.network, example_args, compile=b.compile, mixed_bf16=b.mixed_bf16,
                               mode=b.compile_mode, allow_saturation=b.allow_int8_saturation,
                               conv_zero_point=b.conv_zero_point)
        with torch.inference_mode(), stage("cpu_int8: compiling the int8 graph (Inductor, minutes)"):
            built["fn"](*example_args)        # compile now, so build_s holds the compile time
        rows = rows_from_plans(built["lowered"].plans) + float_rows(fp.network)
        return Variant(with_backend(fp, built["fn"], wrap), built["fn"], graph_bytes(built["converted"]),
                       rows, time.perf_counter() - start,
                       {"notes": built["notes"], "compiled": b.compile, "mixed_bf16": b.mixed_bf16})
    if backend in ("cpu_w4a16", "cpu_w4a8"):
        from genq.bench.backends.cpu_w4 import build_cpu_w4

        built = build_cpu_w4(backend, fp.network, b.w4_group_size, qmodel.network if qmodel is not None else None)
        with torch.inference_mode(), stage(f"{backend}: first call"):
            built["fn"](*example_args)
        return Variant(with_backend(fp, built["fn"], wrap), built["fn"], built["model_bytes"], built["coverage"],
                       time.perf_counter() - start, {"notes": built["notes"]})
    if backend in ("cpu_bf16", "cpu_fp16"):
        dtype = "bfloat16" if backend == "cpu_bf16" else "float16"
        if b.compile:      # weights cast once and frozen (float_baselines.cast_fn)
            fn = cast_fn(fp.network, dtype, compile=True, mode=b.compile_mode)
            how, note, nbytes = (f"{dtype} (weights cast once)",
                                 "the FP network cast to the low dtype once, compiled with frozen weights",
                                 model_bytes(fp.network) // 2)
        else:
            fn = autocast_fn(fp.network, dtype, "cpu")
            how, note, nbytes = (f"{dtype} (autocast)",
                                 "autocast keeps FP32 weights and casts them at run time", model_bytes(fp.network))
        with torch.inference_mode():
            fn(*example_args)
        rows = [CoverageRow(n, type(m).__name__, how, "oneDNN")
                for n, m in fp.network.named_modules()
                if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        return Variant(with_backend(fp, fn, wrap), fn, nbytes, rows, time.perf_counter() - start,
                       {"notes": [f"{note}; the model runs the FP network, whatever the quant recipe"]})
    from genq.bench.backends.cuda import build_cuda, check_cuda
    from genq.bench.backends.format_kernels import check_kernel_formats

    check_cuda(backend)
    check_kernel_formats(backend, qmodel.network if qmodel is not None else None)
    built = build_cuda(backend, fp.network, compile=b.compile, mode=b.compile_mode)
    cuda_args = tuple(a.cuda() for a in example_args)
    with torch.inference_mode():
        built["fn"](*cuda_args)
    from genq.bench.backends.format_match import format_notes

    notes = ["torchao dynamic activation scales, not the simulated model's static ones"]
    notes += format_notes(backend, qmodel.network if qmodel is not None else None)
    return Variant(with_backend(fp, built["fn"], wrap, "cuda"), built["fn"], None, built["coverage"],
                   time.perf_counter() - start, {"notes": notes})


def with_settings(b: Any, **settings: Any) -> Any:
    """A copy of the bench config ``b`` with ``settings`` changed (b itself is left alone)."""
    from types import SimpleNamespace

    keys = b.keys() if hasattr(b, "keys") else vars(b).keys()
    return SimpleNamespace(**{**{k: getattr(b, k) for k in keys}, **settings})


def build_baseline(name: str, fp: GeneratorAdapter, b: Any, example_args: tuple, wrap: bool,
                   qmodel: GeneratorAdapter | None = None) -> Variant:
    """A variant timed beside the backend: an FP baseline, or (with ``bench=cpu_int8``) the
    other int8 variant, ``int8`` or ``int8_bf16``, of the same simulated model."""
    if name in ("int8", "int8_bf16"):
        return build_backend("cpu_int8", fp, qmodel, with_settings(b, mixed_bf16=name == "int8_bf16"),
                             example_args, wrap)
    if name in ("w4a16", "w4a8"):
        return build_backend(f"cpu_{name}", fp, qmodel, b, example_args, wrap)
    from genq.bench.backends.float_baselines import autocast_fn, cast_fn, fp32_fn

    start = time.perf_counter()
    if name == "fp32_eager":
        fn = forward_fn(fp.network)
        return Variant(fp, fn)
    if name == "fp32_compiled":
        fn = fp32_fn(fp.network, compile=True, mode=b.compile_mode)
    elif name == "bf16":
        fn = autocast_fn(fp.network, "bfloat16", mode=b.compile_mode)
    elif name == "bf16_compiled":
        fn = cast_fn(fp.network, "bfloat16", compile=True, mode=b.compile_mode)
    else:
        fn = autocast_fn(fp.network, "float16")
    with torch.inference_mode(), stage(f"baseline {name}: first call (compiles when compiled)"):
        fn(*example_args)
    return Variant(with_backend(fp, fn, wrap), fn, build_s=time.perf_counter() - start)
