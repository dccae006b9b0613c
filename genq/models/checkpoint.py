"""Self-describing checkpoints: a folder with ``config.json`` (the constructor arguments,
so the checkpoint says what it is) and ``model.safetensors`` (the tensors, namespaced by
part, e.g. ``generator.`` / ``discriminator.``).

safetensors holds no code, so loading a checkpoint never executes anything; the class to
build is looked up in a fixed table by name, never imported from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genq.errors import GenqError
from genq.models.integrity import MANIFEST, verify_manifest, write_manifest

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_checkpoint(folder: str | os.PathLike, parts: dict[str, torch.nn.Module],
                    config: dict[str, Any]) -> Path:
    """Write ``parts``' state dicts and ``config`` into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"{part}.{key}": value.detach().contiguous().cpu()
               for part, module in parts.items() for key, value in module.state_dict().items()}
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / WEIGHTS_FILE)
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / CONFIG_FILE)
    if (folder / MANIFEST).is_file():      # shipped weights retrained in place: the manifest follows
        write_manifest(folder)
    return folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint's ``config.json``; a missing or corrupt file is a GenqError."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise GenqError(f"checkpoint folder {str(folder)!r} has no {CONFIG_FILE}; expected a folder "
                        f"written by genq-train ({CONFIG_FILE} + {WEIGHTS_FILE}).")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise GenqError(f"checkpoint config {str(path)!r} is not valid JSON ({err}).") from err


def load_part(folder: str | os.PathLike, part: str, module: torch.nn.Module) -> torch.nn.Module:
    """Load the tensors of ``part`` from ``folder`` into ``module`` (strict)."""
    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise GenqError(f"checkpoint file {str(path)!r} does not exist; expected a safetensors file "
                        "written by genq-train.")
    verify_manifest(folder)     # shipped weights: sha256 against the manifest, before loading
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise GenqError(f"checkpoint file {str(path)!r} is unreadable ({err}); expected a "
                        "safetensors file written by genq-train.") from err
    prefix = part + "."
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise GenqError(f"checkpoint file {str(path)!r} holds no tensors for {part!r}; "
                        f"parts present: {sorted({k.split('.')[0] for k in tensors})}.")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise GenqError(f"checkpoint file {str(path)!r} does not match its config.json for "
                        f"{part!r} ({first}).") from err
    return module
