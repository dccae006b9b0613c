"""The environment a record was produced in: library versions, git commit, device."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch


def _git_sha() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment() -> dict[str, object]:
    """Library versions, git commit, the device and ``cpu`` (model, ISA, logical CPUs:
    ``genq.bench.isa.cpu_info``)."""
    from genq.bench import device_name
    from genq.bench.isa import cpu_info

    def ver(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    return {"torch": torch.__version__, "genq": ver("genq"), "diffusers": ver("diffusers"),
            "torchmetrics": ver("torchmetrics"), "torchao": ver("torchao"), "git_sha": _git_sha(),
            "device": device_name(), "cpu": cpu_info()}
