"""Resumable sweeps: a run folder whose ``result.json`` was completed for the same resolved
config (by hash) is skipped, so a sweep killed part-way and rerun with the same
``hydra.sweep.dir`` computes only what is missing. A failed run leaves a record with
``status: failed`` and its error, and is retried on the next rerun."""

from __future__ import annotations

import hashlib
import json
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genq.config.label import recipe_bits, recipe_label
from genq.errors import GenqError
from genq.tracking.record import RESULT_FILE, SCHEMA_VERSION, write_json_atomic

# Settings that change how a run is logged, not what it computes.
_NOT_HASHED = ("logger",)


def config_hash(cfg: DictConfig) -> str:
    """A short, stable hash of the resolved config (minus logging settings)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in _NOT_HASHED:
        data.pop(key, None)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def completed_record(run_dir: str | Path, digest: str) -> dict[str, Any] | None:
    """The finished record in ``run_dir`` for a config with hash ``digest``, if any."""
    path = Path(run_dir) / RESULT_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("status") == "ok" and record.get("config_hash") == digest:
        return record
    return None


def _bits(q: DictConfig) -> dict[str, Any]:
    """w_bits/a_bits as a finished record states them (a named format's), and the formats."""
    try:
        w_bits, a_bits = recipe_bits(q)
    except GenqError:          # an unknown format name may be what failed
        w_bits, a_bits = q.w_bits, q.a_bits
    return {"w_bits": w_bits, "a_bits": a_bits, "w_format": q.get("w_format"), "a_format": q.get("a_format")}


def write_failure(run_dir: str | Path, cfg: DictConfig, digest: str, err: BaseException) -> Path:
    """Record a failed run (status, error type and message, the last traceback line)."""
    tb = traceback.format_exception(type(err), err, err.__traceback__)
    record = {"schema": SCHEMA_VERSION, "run_id": f"{cfg.model.name}-{cfg.quant.recipe}-{Path(run_dir).name}",
              "status": "failed", "error_type": type(err).__name__, "error": str(err),
              "where": tb[-2].strip() if len(tb) > 1 else "", "experiment": cfg.experiment,
              "model": cfg.model.name, "data": cfg.data.name,
              "quant": {"recipe": cfg.quant.recipe, "label": recipe_label(cfg.quant),
                        "method": cfg.quant.method, **_bits(cfg.quant)},
              "config": OmegaConf.to_container(cfg, resolve=True), "config_hash": digest,
              "seed": cfg.seed}
    return write_json_atomic(Path(run_dir) / RESULT_FILE, record)
