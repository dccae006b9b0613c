"""The kernel-coverage table: per layer, the precision it ran in and the kernel (or the
reason it fell back), plus a count of the kernels one forward pass actually called,
taken from the profiler (so the table reports what ran, not only what was planned)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch


@dataclass
class CoverageRow:
    layer: str
    type: str
    precision: str          # e.g. "int8", "fp32 (fallback)"
    kernel: str             # kernel or reason
    note: str = ""


def rows_from_plans(plans) -> list[CoverageRow]:
    rows = []
    for p in plans:
        if p.quantized:
            weights = "int8 per-channel" if p.w_bits == 8 else f"int{p.w_bits} values in int8 per-channel"
            rows.append(CoverageRow(p.name, p.type, f"int8 ({weights} weights, uint8 static act)",
                                    "oneDNN qconv/qlinear (PT2E X86InductorQuantizer)", "; ".join(p.rewrites)))
        else:
            rows.append(CoverageRow(p.name, p.type, "fp32 (fallback)", p.reason))
    return rows


def float_rows(network: torch.nn.Module) -> list[CoverageRow]:
    """Ops with no int8 kernel that always run in floating point (the field's usual gaps)."""
    counts: Counter = Counter()
    for name, mod in network.named_modules():
        kind = type(mod).__name__
        if kind in ("GroupNorm", "BatchNorm2d", "LayerNorm", "SiLU", "Attention", "Upsample2D",
                    "Downsample2D", "Tanh", "ReLU"):
            counts[kind] += 1
    notes = {"GroupNorm": "no int8 kernel; runs in fp32 (Inductor fuses it with SiLU and the next layer's quantize)",
             "Attention": "softmax(QK^T)V runs in fp32 SDPA (Q/K/V/out projections are the Linear rows)",
             "BatchNorm2d": "folded into the preceding conv where it directly follows one",
             "SiLU": "fp32, fused by Inductor", "Tanh": "fp32", "ReLU": "fp32, fused by Inductor"}
    return [CoverageRow(f"({n} modules)", kind, "fp32", notes.get(kind, "fp32"))
            for kind, n in sorted(counts.items())]


def kernel_counts(fn: Callable[[], object], int8_ops: tuple[str, ...], float_ops: tuple[str, ...]) -> dict[str, object]:
    """Calls of int8 and float conv/linear kernels in one ``fn()`` (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:   # as compiled (no recompile)
        fn()
    calls = Counter()
    for ev in prof.events():
        if ev.name in int8_ops or ev.name in float_ops:
            calls[ev.name] += 1
    averages = [e for e in prof.key_averages() if not e.key.startswith(("## Call", "Torch-Compiled"))]
    total = sum(e.self_cpu_time_total for e in averages) or 1.0
    top = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    return {"int8_calls": sum(v for k, v in calls.items() if k in int8_ops),
            "float_calls": sum(v for k, v in calls.items() if k in float_ops),
            "by_kernel": dict(calls),
            # where one forward spends its time (self CPU time; Inductor's fused C++ kernels
            # are named graph_*_cpp_fused_<ops> when compiled with kernel profiling on)
            "top_ops": [{"op": e.key[:120], "calls": e.count, "self_ms": round(e.self_cpu_time_total / 1000, 3),
                         "share": round(e.self_cpu_time_total / total, 3)} for e in top]}


def summarize(rows: list[CoverageRow]) -> dict[str, object]:
    by_type: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.layer.startswith("("):
            continue
        key = "low" if not r.precision.endswith("(fallback)") else "fallback"
        by_type.setdefault(r.type, {"low": 0, "fallback": 0})[key] += 1
    return {"low_precision": sum(v["low"] for v in by_type.values()),
            "fallback": sum(v["fallback"] for v in by_type.values()), "by_type": by_type}


def as_dicts(rows: list[CoverageRow]) -> list[dict[str, str]]:
    return [asdict(r) for r in rows]


def markdown(rows: list[CoverageRow]) -> str:
    lines = ["| layer | type | precision | kernel / reason | rewrites |", "|---|---|---|---|---|"]
    lines += [f"| {r.layer} | {r.type} | {r.precision} | {r.kernel} | {r.note} |" for r in rows]
    return "\n".join(lines)
