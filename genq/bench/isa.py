"""The CPU a timing ran on: its model name, the instruction-set extensions that decide which
int8/bf16 kernels exist (AMX, AVX-512 VNNI/BF16, AVX2) and its logical CPU count.

One reader of ``/proc/cpuinfo`` for the whole project (records' ``env.cpu``, the benchmark
scripts); off Linux the model is the platform's processor string and no ISA is listed.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The extensions that matter for genq's CPU kernels, strongest first (this order is kept).
ISA_FLAGS = ("amx_int8", "amx_bf16", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512f", "avx2")
# int8 dot-product instructions that accumulate u8 x s8 products in int32 (no int16 step)
INT32_DOT_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")


def _read_cpuinfo() -> str | None:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


def cpu_info(cpuinfo_text: str | None = None) -> dict:
    """``{"model": str, "isa": [flags of ISA_FLAGS present, in that order], "logical_cpus": int}``.

    Parses ``cpuinfo_text`` (the text of ``/proc/cpuinfo``) or, when None, reads
    ``/proc/cpuinfo``; where there is none (not Linux) the model is ``platform.processor()``
    (or the machine type), ``isa`` is empty and ``logical_cpus`` is ``os.cpu_count()``.
    """
    text = _read_cpuinfo() if cpuinfo_text is None else cpuinfo_text
    model, flags, processors = None, set(), 0
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "processor":
            processors += 1
        elif key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    if not model:
        model = platform.processor() or platform.machine() or "unknown CPU"
    logical = processors if text and processors else (os.cpu_count() or 1)
    return {"model": model, "isa": [f for f in ISA_FLAGS if f in flags], "logical_cpus": logical}


def cpu_summary(info: dict | None = None) -> str:
    """One line for a benchmark's header: ``model (isa, ...; N logical CPUs)``."""
    info = cpu_info() if info is None else info
    return f"{info['model']} ({', '.join(info['isa']) or 'no AVX2'}; {info['logical_cpus']} logical CPUs)"


def int8_pairs_saturate(info: dict | None = None) -> bool:
    """Whether oneDNN's u8 x s8 int8 kernels on this CPU sum pairs of byte products in int16
    with saturation: x86 CPUs with AVX2 but none of AMX-int8, AVX-512 VNNI or AVX-VNNI run
    ``vpmaddubsw``, where two products of 8-bit activations (up to 255) and int8 weights
    overflow 32767 and clip. FBGEMM avoids it with 7-bit activations (``reduce_range``); 7-bit
    activation codes (<= 127) cannot overflow (2 * 127 * 128 < 32767)."""
    info = cpu_info() if info is None else info
    isa = set(info["isa"])
    return "avx2" in isa and not isa & set(INT32_DOT_FLAGS)
