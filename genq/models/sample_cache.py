"""FP samples kept in memory between the jobs of one process.

Hydra's basic launcher runs a sweep's jobs in one process, and every job samples the FP
model on its noise bank to score it against the quantized one: a sweep of ten recipes on
one model samples the same FP images ten times (about half of a DDPM run's time). The
cache key is everything the FP images depend on — the resolved model and data configs, the
noise seed and count, the device and the number of processes — so a change in any of them
samples afresh. Entries are small (1,000 digits are 1 MB); large image sets are not kept.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Callable

import torch

MAX_ENTRIES = 8
MAX_BYTES = 256 * 2 ** 20            # per entry: larger sets (hub models at 256 px) are not kept

_CACHE: "OrderedDict[str, torch.Tensor]" = OrderedDict()


def sample_key(model_cfg: Any, data_cfg: Any, seed: int, n_samples: int, device: str,
               processes: int) -> str:
    """The cache key: canonical JSON of every input of the FP sampling."""
    from omegaconf import OmegaConf

    def plain(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node

    return json.dumps({"model": plain(model_cfg), "data": plain(data_cfg), "seed": seed,
                       "n": n_samples, "device": device, "processes": processes},
                      sort_keys=True, default=str)


def cached_fp_samples(key: str, sample: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, bool]:
    """(images, reused): the images stored under ``key``, or ``sample()`` stored now."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key].clone(), True
    images = sample()
    if images.element_size() * images.nelement() <= MAX_BYTES:
        _CACHE[key] = images.detach().clone()
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return images, False


def clear() -> None:
    _CACHE.clear()
