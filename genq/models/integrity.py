"""Checkpoint integrity (issue 21): the weights shipped in the package carry a manifest of
sha256 digests (``sha256.json``), checked before the tensors load, so a damaged or replaced
file is refused in one sentence instead of producing silently wrong numbers; and a loaded
model whose weights hold NaN or inf is refused before any sampling."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from genq.errors import GenqError

MANIFEST = "sha256.json"
_verified: dict[tuple[str, int, int], bool] = {}


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | os.PathLike, names: tuple[str, ...] = ("config.json", "model.safetensors")) -> Path:
    """Write ``folder/sha256.json`` for ``names`` (run when weights are shipped)."""
    folder = Path(folder)
    data = {name: file_sha256(folder / name) for name in names if (folder / name).is_file()}
    (folder / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return folder / MANIFEST


def verify_manifest(folder: str | os.PathLike) -> None:
    """Check every file ``folder/sha256.json`` lists (no manifest: nothing to check, e.g. a
    genq-train output). Verified once per file state in a process."""
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        return
    try:
        expected: dict[str, Any] = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise GenqError(f"weights manifest {str(manifest)!r} is not valid JSON ({err}); accepted: the "
                        "file shipped with genq (reinstall genq).") from err
    for name, want in expected.items():
        path = Path(folder) / name
        if not path.is_file():
            raise GenqError(f"weights file {str(path)!r} listed in {MANIFEST} is missing; accepted: the "
                            "files shipped with genq (reinstall genq).")
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if _verified.get(key):
            continue
        got = file_sha256(path)
        if got != want:
            raise GenqError(f"weights file {str(path)!r} has sha256 {got[:16]}..., but {MANIFEST} lists "
                            f"{str(want)[:16]}...; the file is damaged or was replaced: accepted: the file "
                            "shipped with genq (reinstall genq) or a genq-train folder without a manifest.")
        _verified[key] = True


def check_finite(modules: dict[str, Any], where: str) -> None:
    """Refuse NaN/inf in the parameters and buffers of ``modules`` (name -> nn.Module)."""
    import torch

    for part, module in modules.items():
        if module is None:
            continue
        tensors = list(module.named_parameters()) + list(module.named_buffers())
        for name, value in tensors:
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).sum())
                raise GenqError(f"{where} has non-finite weights: {part}.{name} holds {bad} NaN/inf values; "
                                "accepted: finite weights (retrain, re-download or re-export the checkpoint).")
