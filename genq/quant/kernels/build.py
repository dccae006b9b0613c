"""Compiling a C source shipped with genq into a shared library and loading it (ctypes).

Why not ``torch.utils.cpp_extension``: it needs ninja and the torch headers (tens of
seconds per build); these kernels are plain C on float pointers, built in well under a
second with the system compiler. The library is cached under
``$GENQ_CACHE/kernels/<name>-<hash>.so``, the hash over the source, the compiler, its flags
and the CPU (``-march=native``), and written atomically so parallel workers can build it at
once. Only genq's own source is compiled; nothing read from a config or checkpoint.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).parent
# -ffp-contract=off: no fused multiply-add, so every float32 operation rounds as PyTorch's
FLAGS = ["-O3", "-std=c99", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math"]
NATIVE_FLAGS = ["-march=native"]
# threads through OpenMP; the library then uses the libgomp.so.1 torch has already loaded
OPENMP_FLAGS = ["-fopenmp"]


def _cache_dir() -> Path:
    return Path(os.environ.get("GENQ_CACHE", Path.home() / ".cache" / "genq")) / "kernels"


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc) or cc
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _cpu_key() -> str:
    """What -march=native depends on: the CPU model and its flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        lines = [l for l in text.splitlines() if l.startswith(("model name", "flags"))][:2]
        return "\n".join(lines)
    except OSError:
        return platform.processor() or platform.machine()


def _compile(cc: str, source: Path, target: Path, flags: list[str]) -> str | None:
    """Compile ``source`` into ``target`` (atomic); the compiler's complaint on failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError as exc:                 # a read-only cache: say so, run the PyTorch path
        return f"cannot write {target.parent}: {exc}"
    try:
        proc = subprocess.run([cc, *flags, "-o", tmp, str(source), "-lm"], capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-400:] or f"exit status {proc.returncode}"
        os.replace(tmp, target)
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_library(name: str, flags: tuple[str, ...]) -> tuple[ctypes.CDLL | None, str | None]:
    """``<name>.c`` of this folder compiled with ``flags`` (or found in the cache) and loaded;
    (None, the reason) when that fails."""
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (set CC)"
    source = SOURCE_DIR / f"{name}.c"
    key = hashlib.sha256("\0".join([source.read_text(), cc, " ".join(flags), _cpu_key()])
                         .encode()).hexdigest()[:16]
    target = _cache_dir() / f"{name}-{key}.so"
    error = None if target.exists() else _compile(cc, source, target, list(flags))
    if error is None:
        try:
            return ctypes.CDLL(str(target)), None
        except OSError as exc:
            error = str(exc)
    return None, f"{' '.join(flags)}: {error}"


@lru_cache(maxsize=None)
def load_library(name: str) -> ctypes.CDLL | None:
    """The compiled ``<name>.c`` of this folder, built on first use for this CPU (falling back
    to portable flags); None, logged once, when native kernels are off (``GENQ_NATIVE=0``) or
    nothing builds."""
    if os.environ.get("GENQ_NATIVE", "1") == "0":
        return None
    errors = []
    for flags in (FLAGS + NATIVE_FLAGS + OPENMP_FLAGS, FLAGS + NATIVE_FLAGS, FLAGS):
        lib, error = build_library(name, tuple(flags))
        if lib is not None:
            return lib
        errors.append(error or "")
        if error and error.startswith("no C compiler"):
            break
    log.warning("could not build the native kernel %s (%s); it runs in eager PyTorch, slower",
                name, "; ".join(errors))
    return None


def native_status(name: str = "fake_quant") -> str:
    """How the kernel runs here, for benchmark and speed notes."""
    return "native C kernel" if load_library(name) is not None else "eager PyTorch"
