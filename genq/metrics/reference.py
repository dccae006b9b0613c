"""Reference statistics of the real images, computed once and cached.

Per (dataset and split, resolution, feature extractor and its weights, resize path, number
of images, and a digest of the images themselves) genq stores the real features (KID and
precision/recall draw from them) and their FID statistics (mean, covariance as torch-fidelity
computes them) in ``$GENQ_CACHE/stats/<extractor>-<key>.safetensors``: no pickle, written
to a temporary file and renamed, so a crash never leaves half a file. The key is a SHA-256
of those fields; the fields themselves are in the file's metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genq.metrics.features import extract_all

SCHEMA = 1


@dataclass
class ReferenceStats:
    features: torch.Tensor                      # (N, D) float32
    mu: np.ndarray                              # torch-fidelity's FID statistics of ``features``
    sigma: np.ndarray
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    source: str = "computed"                    # computed | cache | computed (cache off)
    seconds: float = 0.0

    @property
    def fid_stats(self) -> dict[str, np.ndarray]:
        return {"mu": self.mu, "sigma": self.sigma}


def stats_dir() -> Path:
    from genq.models.registry import cache_dir

    return cache_dir() / "stats"


def images_digest(images: torch.Tensor) -> str:
    """SHA-256 of the images' values (so a changed data pipeline never hits a stale cache)."""
    x = images.detach().cpu().contiguous()
    digest = hashlib.sha256(str((tuple(x.shape), str(x.dtype))).encode())
    digest.update(x.view(torch.uint8).numpy().tobytes() if x.numel() else b"")
    return digest.hexdigest()


def reference_key(extractor: torch.nn.Module, real: torch.Tensor, data_key: Any) -> tuple[str, dict[str, Any]]:
    _, c, h, w = real.shape
    weights = getattr(extractor, "weights", None)
    fields = {"schema": SCHEMA, "data": data_key, "n": int(real.shape[0]), "resolution": [c, h, w],
              "extractor": extractor.name, "resize": extractor.resize(h, w),
              "extractor_weights_sha256": weights["sha256"] if weights else None,
              "images_sha256": images_digest(real)}
    if weights is None:   # a network genq ships or trains: key it by its parameter values
        fields["extractor_params_sha256"] = images_digest(torch.cat(
            [t.detach().flatten().float() for t in extractor.state_dict().values()]))
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20], fields


def _save(path: Path, stats: ReferenceStats) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"features": stats.features.contiguous(), "mu": torch.from_numpy(np.ascontiguousarray(stats.mu)),
               "sigma": torch.from_numpy(np.ascontiguousarray(stats.sigma))}
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"fields": json.dumps(stats.fields, sort_keys=True, default=str),
                                          "key": stats.key})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path, key: str) -> ReferenceStats | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("key") != key:
                return None
            fields = json.loads(f.metadata()["fields"])
            t = {name: f.get_tensor(name) for name in ("features", "mu", "sigma")}
    except Exception as err:  # noqa: BLE001 - a damaged cache file is recomputed, loudly
        warnings.warn(f"reference statistics {str(path)!r} are unreadable ({err}); recomputing them.")
        return None
    return ReferenceStats(t["features"], t["mu"].numpy(), t["sigma"].numpy(), key, fields, "cache")


def reference_stats(extractor: torch.nn.Module, real: torch.Tensor, data_key: Any = None,
                    batch_size: int = 500, use_cache: bool = True) -> ReferenceStats:
    """Features and FID statistics of the real images ``real`` ([-1, 1]), from the cache
    when an identical computation was stored before."""
    from genq.metrics.distribution import fidelity_statistics

    start = time.perf_counter()
    key, fields = reference_key(extractor, real, data_key)
    path = stats_dir() / f"{extractor.name}-{key}.safetensors"
    if use_cache and path.is_file():
        stats = _load(path, key)
        if stats is not None:
            stats.seconds = time.perf_counter() - start
            return stats
    features = extract_all(extractor, real, batch_size)["features"].float().contiguous()
    fid = fidelity_statistics(features)
    stats = ReferenceStats(features, fid["mu"], fid["sigma"], key, fields,
                           "computed" if use_cache else "computed (cache off)")
    if use_cache:
        _save(path, stats)
    stats.seconds = time.perf_counter() - start
    return stats
