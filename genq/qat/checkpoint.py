"""QAT training checkpoints for exact resume: tensors in safetensors, everything else in JSON.

A checkpoint folder ``step_000100/`` holds

- ``model.safetensors``: the student's state dict (weights, step sizes, offsets, LoRA factors);
- ``state.safetensors``: the optimizer's tensors and the RNG states (torch's global CPU
  generator and the training loop's own generator) as uint8 tensors;
- ``state.json``: step, loss history, optimizer hyper-parameters, LR-scheduler state, Python
  and NumPy RNG states and the fingerprint of the config that wrote it.

Folders are written under a temporary name and renamed when complete, so a crash never leaves
a half-written checkpoint under a ``step_*`` name; older ones are deleted only after a newer
one is complete. Nothing is ever unpickled (DESIGN.md: safetensors or weights_only loads).
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from genq.errors import GenqError

PREFIX = "step_"


@dataclass
class TrainingState:
    """What the loop needs to continue exactly where it stopped."""

    step: int
    history: list[dict[str, Any]]
    fingerprint: str


def _tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone().contiguous() for k, v in state_dict.items()}


def _split_optimizer(opt_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, plain = {}, {}
    for idx, entry in opt_state["state"].items():
        plain[str(idx)] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{idx}.{key}"] = value.detach().cpu().clone().contiguous()
            else:
                plain[str(idx)][key] = value
    return tensors, {"state": plain, "param_groups": opt_state["param_groups"]}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _py_random_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _np_random_state() -> list:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def save_checkpoint(folder: Path, step: int, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                    generator: torch.Generator, history: list[dict[str, Any]], fingerprint: str,
                    keep: int = 2) -> Path:
    """Write ``folder/step_<step>/`` atomically and keep the newest ``keep`` checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:06d}"
    tmp = folder / f".tmp_{PREFIX}{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(_tensors(model.state_dict()), str(tmp / "model.safetensors"))
    opt_tensors, opt_meta = _split_optimizer(optimizer.state_dict())
    opt_tensors["rng.torch"] = torch.get_rng_state()
    opt_tensors["rng.loop"] = generator.get_state()
    save_file(opt_tensors, str(tmp / "state.safetensors"))
    meta = {"step": step, "fingerprint": fingerprint, "history": history, "optimizer": opt_meta,
            "scheduler": scheduler.state_dict(), "rng_python": _py_random_state(),
            "rng_numpy": _np_random_state()}
    (tmp / "state.json").write_text(json.dumps(meta))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{PREFIX}*") if (p / "state.json").is_file())


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                    generator: torch.Generator, fingerprint: str) -> TrainingState:
    """Restore everything :func:`save_checkpoint` wrote; refuse a checkpoint of another config."""
    meta = json.loads((path / "state.json").read_text())
    if meta["fingerprint"] != fingerprint:
        raise GenqError(f"QAT checkpoint {str(path)!r} was written by a different quant config "
                        f"({meta['fingerprint']} vs {fingerprint}); accepted: a checkpoint of the "
                        "same config, or quant.qat.resume=false to start over.")
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(path / "model.safetensors"), device=str(device)))
    tensors = load_file(str(path / "state.safetensors"))
    optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
    scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.loop"])
    version, internal, gauss = meta["rng_python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = meta["rng_numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    return TrainingState(meta["step"], meta["history"], meta["fingerprint"])
